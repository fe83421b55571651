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
dir=${LAIKI_ENVTEST_DIR:-$root/.cache/envtest/$k8s_version-etcd-$etcd_version}
mkdir -p "$dir"

works() { [ -x "$dir/$1" ] && "$dir/$1" --version >/dev/null 2>&1; }

build() { # name module-dir package
	local name=$1 mod=$2 pkg=$3 tmp
	if works "$name"; then
		echo "envtest: $name cached in $dir" >&2
		return
	fi
	echo "envtest: building $name from $pkg (a few minutes the first time)..." >&2
	tmp=$(mktemp "$dir/.$name.XXXXXX")
	local start=$SECONDS
	(cd "$root/hack/envtest/$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags="-s -w" -o "$tmp" "$pkg")
	mv -f "$tmp" "$dir/$name"
	echo "envtest: built $name in $((SECONDS - start))s" >&2
}

build kube-apiserver apiserver k8s.io/kubernetes/cmd/kube-apiserver
build etcd etcd go.etcd.io/etcd/server/v3
echo "$dir"
