#!/usr/bin/env bash
# Builds helm from the Go module proxy at the version pinned in
# hack/helm/go.mod, for the chart's tests (helm lint, helm template), and
# caches it in .cache/helm/<version>-<recipe>/ (or $LAIKI_HELM_DIR). The last
# line on stdout is the binary's path.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '$1 == "helm.sh/helm/v4" {print $2} $2 == "helm.sh/helm/v4" {print $3}' "$root/hack/helm/go.mod")
recipe=$(cat "$0" "$root/hack/helm/go.mod" "$root/hack/helm/go.sum" | sha256sum | cut -c1-8)
dir=${LAIKI_HELM_DIR:-$root/.cache/helm/$version-$recipe}
mkdir -p "$dir"
bin=$dir/helm

if [ -x "$bin" ] && "$bin" version --short >/dev/null 2>&1; then
	echo "helm: cached in $dir" >&2
else
	echo "helm: building $version from the Go module proxy (a minute or two the first time)..." >&2
	tmp=$(mktemp "$dir/.helm.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	start=$SECONDS
	(cd "$root/hack/helm" && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=readonly \
		go build -trimpath -ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$version" -o "$tmp" helm.sh/helm/v4/cmd/helm)
	mv -f "$tmp" "$bin"
	trap - EXIT
	echo "helm: built in $((SECONDS - start))s" >&2
fi
echo "$bin"
