package webhook

// evalStack is the stack the engine's evaluation of one object needs, about
// (OPA's evaluator recurses deeply): a goroutine's stack starts at a few KB
// and doubles when full, each time copying itself and adjusting every frame
// of the deep recursion. net/http runs each HTTP/2 request on a new
// goroutine, so every request paid five or so such copies: 12% of the
// webhook's CPU under load (runtime.copystack in a profile of the bench's
// server). Grown once, before the evaluation, the copy is of a few shallow
// frames. A stack grown more than needed costs the zeroing of the frame
// below and memory while the request runs: 128 KB at 64 KB of frame.
const evalStack = 64 << 10

// growStack grows the calling goroutine's stack to hold the engine's
// evaluation in one step: its frame is that large.
//
//go:noinline
func growStack() {
	var frame [evalStack]byte
	touch(frame[:])
}

// touch keeps the frame from being optimised away.
//
//go:noinline
func touch(b []byte) { b[len(b)-1] = 1 }
