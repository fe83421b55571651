#!/usr/bin/env bash
# Builds the kube-apiserver and etcd that envtest runs, from the Go module
# proxy at the versions pinned in hack/envtest/*/go.mod (setup-envtest's
# download bucket cannot be reached here), and caches them in
# .cache/envtest/<kubernetes version>/ (or $LAIKI_ENVTEST_DIR). A second run
# reuses them. The last line on stdout is the directory, for
# KUBEBUILDER_ASSETS=$(scripts/envtest-binaries.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s_version=$(awk '/^require k8s.io\/kubernetes/ {print $3}' "$root/hack/envtest/apiserver/go.mod")
etcd_version=$(awk '/^require go.etcd.io\/etcd\/server\/v3/ {print $3}' "$root/hack/envtest/etcd/go.mod")
# The recipe (this script and the build modules) is part of the cache key, so
# a change to it builds anew.
recipe=$(cat "$0" "$root"/hack/envtest/*/go.mod "$root"/hack/envtest/*/go.sum | sha256sum | cut -c1-8)
dir=${LAIKI_ENVTEST_DIR:-$root/.cache/envtest/$k8s_version-etcd-$etcd_version-$recipe}
mkdir -p "$dir"

works() { [ -x "$dir/$1" ] && "$dir/$1" --version >/dev/null 2>&1; }

# A build that fails or is interrupted leaves no partial binary behind.
tmp=""
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT

build() { # name module-dir package [ldflags]
	local name=$1 mod=$2 pkg=$3 ldflags=${4:-}
	if works "$name"; then
		echo "envtest: $name cached in $dir" >&2
		return
	fi
	echo "envtest: building $name from $pkg (a few minutes the first time)..." >&2
	tmp=$(mktemp "$dir/.$name.XXXXXX")
	local start=$SECONDS
	# The module's go.mod and go.sum are complete, so the build only downloads
	# (-mod=readonly: it never rewrites them); GOWORK=off keeps any go.work out.
	(cd "$root/hack/envtest/$mod" && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly \
		go build -trimpath -ldflags="-s -w $ldflags" -o "$tmp" "$pkg")
	mv -f "$tmp" "$dir/$name"
	tmp=""
	echo "envtest: built $name in $((SECONDS - start))s" >&2
}

# The API server says which version it is, as a released one does.
minor=$(echo "$k8s_version" | cut -d. -f2)
v=k8s.io/component-base/version
build kube-apiserver apiserver k8s.io/kubernetes/cmd/kube-apiserver \
	"-X $v.gitVersion=$k8s_version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
build etcd etcd go.etcd.io/etcd/server/v3
echo "$dir"
