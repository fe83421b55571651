package webhook

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/laiki-platform/laiki/engine/kube"
)

// patchOp is one operation of a JSON patch.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// patchOf reads a response's patch, as written (Patch) or as operations
// (Patches, which Complete writes).
func patchOf(t *testing.T, resp admission.Response) []patchOp {
	t.Helper()
	raw := resp.Patch
	if len(resp.Patches) > 0 {
		var err error
		if raw, err = json.Marshal(resp.Patches); err != nil {
			t.Fatal(err)
		}
	}
	if len(raw) == 0 {
		return nil
	}
	var ops []patchOp
	if err := json.Unmarshal(raw, &ops); err != nil {
		t.Fatalf("patch %s: %v", raw, err)
	}
	return ops
}

// applyPatch applies a JSON patch (add, remove, replace; maps and lists)
// to a copy of doc, as the API server does.
func applyPatch(doc any, ops []patchOp) (any, error) {
	raw, _ := json.Marshal(doc)
	var out any
	_ = json.Unmarshal(raw, &out)
	for _, op := range ops {
		var err error
		if out, err = applyAt(out, splitPointer(op.Path), op); err != nil {
			return nil, fmt.Errorf("%s %s: %w", op.Op, op.Path, err)
		}
	}
	return out, nil
}

func splitPointer(path string) []string {
	if path == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts
}

func applyAt(doc any, path []string, op patchOp) (any, error) {
	if len(path) == 0 {
		if op.Op == "remove" {
			return nil, fmt.Errorf("remove the whole document")
		}
		return op.Value, nil
	}
	key, last := path[0], len(path) == 1
	switch d := doc.(type) {
	case map[string]any:
		if !last {
			child, ok := d[key]
			if !ok {
				return nil, fmt.Errorf("no %s", key)
			}
			v, err := applyAt(child, path[1:], op)
			d[key] = v
			return d, err
		}
		_, exists := d[key]
		switch op.Op {
		case "add":
			d[key] = op.Value
		case "replace":
			if !exists {
				return nil, fmt.Errorf("replace of %s, which is not there", key)
			}
			d[key] = op.Value
		case "remove":
			if !exists {
				return nil, fmt.Errorf("remove of %s, which is not there", key)
			}
			delete(d, key)
		}
		return d, nil
	case []any:
		i, err := strconv.Atoi(key)
		if key == "-" && last && op.Op == "add" {
			return append(d, op.Value), nil
		}
		if err != nil || i < 0 || i > len(d) || (i == len(d) && !(last && op.Op == "add")) {
			return nil, fmt.Errorf("no item %s of %d", key, len(d))
		}
		if !last {
			v, err := applyAt(d[i], path[1:], op)
			d[i] = v
			return d, err
		}
		switch op.Op {
		case "add":
			return append(d[:i], append([]any{op.Value}, d[i:]...)...), nil
		case "replace":
			d[i] = op.Value
		case "remove":
			return append(d[:i], d[i+1:]...), nil
		}
		return d, nil
	}
	return nil, fmt.Errorf("%s of a %T", key, doc)
}

// The patch written straight from the changes makes the object that
// jsonpatch.CreatePatch's patch of the whole mutated object made: for
// objects with and without metadata, annotations and owner, and specs
// changed every which way (values, types, keys added and removed, nested
// maps and lists, keys that need escaping).
func TestPatchAsCreatePatch(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	values := []any{nil, true, false, 0.0, 1.0, 2.5, 1e21, "", "x", "a/b", "~0", []any{}, []any{1.0, "a"}, map[string]any{}, map[string]any{"k": "v"}}
	random := randomValues(rng, randomShape{n: 8, leafBelow: 4, listBelow: 6, maxDepth: 3},
		func() any { return values[rng.Intn(len(values))] },
		func() string { return []string{"a", "b", "c", "x/y", "t~n", "container-env", ""}[rng.Intn(7)] })
	// mutate changes a JSON value a little, as a pre-processor would.
	var mutate func(v any) any
	mutate = func(v any) any {
		m, ok := v.(map[string]any)
		if !ok || rng.Intn(6) == 0 {
			if rng.Intn(2) == 0 {
				return v
			}
			return random(2)
		}
		out := map[string]any{}
		for k, e := range m {
			switch rng.Intn(6) {
			case 0: // removed
			case 1:
				out[k] = random(1)
			default:
				out[k] = mutate(e)
			}
		}
		if rng.Intn(2) == 0 {
			out[[]string{"new", "a", "x/y", "~"}[rng.Intn(4)]] = random(1)
		}
		return out
	}
	metas := []func(o map[string]any){
		func(o map[string]any) {},
		func(o map[string]any) { delete(o, "metadata") },
		func(o map[string]any) { o["metadata"] = nil },
		func(o map[string]any) { o["metadata"].(map[string]any)["annotations"] = nil },
		func(o map[string]any) { o["metadata"].(map[string]any)["annotations"] = map[string]any{"other": "x"} },
		func(o map[string]any) {
			o["metadata"].(map[string]any)["annotations"] = map[string]any{kube.AnnotationSource: "team-a", "other": "x"}
		},
		func(o map[string]any) {
			o["metadata"].(map[string]any)["annotations"] = map[string]any{kube.AnnotationSource: "team-b"}
		},
		func(o map[string]any) {
			o["metadata"].(map[string]any)["annotations"] = map[string]any{kube.AnnotationSource: 3.0}
		},
	}
	for i := 0; i < 3000; i++ {
		obj := map[string]any{"apiVersion": "laiki.io/v1alpha1", "kind": "ShinyProxyApp",
			"metadata": map[string]any{"name": "x", "namespace": "sp-0"}, "spec": random(0), "status": map[string]any{"x": 1.0}}
		if i%10 == 0 {
			delete(obj, "spec")
		}
		metas[rng.Intn(len(metas))](obj)
		raw, _ := json.Marshal(obj)
		var decoded map[string]any
		_ = json.Unmarshal(raw, &decoded)
		var newSpec any
		if i%3 != 0 {
			newSpec, _ = jsonValue(mutate(obj["spec"]))
		}

		// As the webhook did: the whole object, owner set and spec
		// replaced, compared with the request's by jsonpatch.
		var p jsonPatch
		ownerOps(&p, decoded, "team-a")
		setOwner(decoded, "team-a")
		mutated := map[string]any{}
		for k, v := range decoded {
			mutated[k] = v
		}
		if newSpec != nil {
			mutated["spec"] = newSpec
		}
		want, _ := json.Marshal(mutated)
		old := admission.PatchResponseFromRaw(raw, want)

		// As it does now.
		if newSpec != nil {
			if s, ok := decoded["spec"]; ok {
				diffOps(&p, "/spec", s, newSpec)
			} else {
				p.op("add", "/spec", newSpec)
			}
		}
		patch, err := p.bytes()
		if err != nil {
			t.Fatal(err)
		}
		var viaOld, viaNew any
		if viaOld, err = applyPatch(obj, patchOf(t, old)); err != nil {
			t.Fatalf("object %d, jsonpatch's patch: %v", i, err)
		}
		if viaNew, err = applyPatch(obj, patchOf(t, admission.Response{AdmissionResponse: admissionResponse(patch)})); err != nil {
			t.Fatalf("object %d, patch %s: %v", i, patch, err)
		}
		var expected any
		_ = json.Unmarshal(want, &expected)
		if !reflect.DeepEqual(viaNew, viaOld) || !reflect.DeepEqual(viaNew, expected) {
			t.Fatalf("object %d %s:\npatch %s\n  new %v\n  old %v", i, raw, patch, viaNew, viaOld)
		}
		if (len(patch) == 0) != (len(old.Patches) == 0) {
			t.Errorf("object %d: patch %s, jsonpatch's %v", i, patch, old.Patches)
		}
	}
}

func admissionResponse(patch []byte) admissionv1.AdmissionResponse {
	return admissionv1.AdmissionResponse{Patch: patch}
}

// randomShape says how randomValues builds a value: of r := rng.Intn(n), a
// leaf when r < leafBelow or deeper than maxDepth, a list of up to three
// when r < listBelow, else a map of up to four keys.
type randomShape struct{ n, leafBelow, listBelow, maxDepth int }

// randomValues makes random JSON values of leaf() and key(), the same for
// the same rng.
func randomValues(rng *rand.Rand, s randomShape, leaf func() any, key func() string) func(depth int) any {
	var random func(depth int) any
	random = func(depth int) any {
		switch r := rng.Intn(s.n); {
		case r < s.leafBelow || depth > s.maxDepth:
			return leaf()
		case r < s.listBelow:
			l := make([]any, rng.Intn(4))
			for i := range l {
				l[i] = random(depth + 1)
			}
			return l
		default:
			m := map[string]any{}
			for i := rng.Intn(5); i > 0; i-- {
				k := key()
				m[k] = random(depth + 1)
			}
			return m
		}
	}
	return random
}
