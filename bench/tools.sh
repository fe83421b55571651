#!/usr/bin/env bash
# Builds the peers of `make bench` from the Go module proxy, at the versions
# pinned in bench/tools/*/go.mod, and the laiki binary from this checkout,
# into .cache/bench/ (or $LAIKI_BENCH_DIR). Prints "name path" lines.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${LAIKI_BENCH_DIR:-$root/.cache/bench}
mkdir -p "$dir"

tool() { # name module-dir package
	local name=$1 mod=$2 pkg=$3
	local version
	version=$(awk -v p="$pkg" '$1 == p {print $2} $2 == p {print $3}' "$root/bench/tools/$mod/go.mod")
	local recipe
	recipe=$(cat "$root/bench/tools/$mod/go.mod" "$root/bench/tools/$mod/go.sum" | sha256sum | cut -c1-8)
	local bin=$dir/$name-$version-$recipe
	if [ ! -x "$bin" ]; then
		echo "bench: building $name $version from the Go module proxy..." >&2
		(cd "$root/bench/tools/$mod" && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" "$pkg")
		mv -f "$bin.tmp" "$bin"
	fi
	echo "$name $bin $version"
}

tool conftest conftest github.com/open-policy-agent/conftest
tool opa opa github.com/open-policy-agent/opa
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$dir/laiki" ./cmd/laiki)
echo "laiki $dir/laiki $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo dev)"
