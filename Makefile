# Laiki: build, test and benchmark. `make test` is what CI runs (.ci/run).
GO ?= go
BIN := bin/laiki

CONTROLLER_GEN := $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0

.PHONY: all build test test-deps envtest helm chart image unit e2e demo bench vet fmt generate verify-generated fuzz-short

IMAGE ?= ghcr.io/laiki-platform/laiki:dev

all: build

# The version stamped into the binary (laiki version, and every report).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X github.com/laiki-platform/laiki/engine/version.Stamp=$(VERSION)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/laiki

# The main job on the bundled examples: no cluster, no cloud account.
demo:
	$(GO) run ./cmd/laiki render --config examples/laiki-with-data.yaml

# Everything the tests need that Go modules do not bring (git, for its
# daemon and http-backend) is installed here, from Debian's packages.
test-deps:
	./scripts/install-test-deps.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# Deep copies and CRDs come from the Go types in engine/api.
generate:
	$(CONTROLLER_GEN) object paths=./engine/api/...
	$(CONTROLLER_GEN) crd paths=./engine/api/... output:crd:artifacts:config=charts/laiki/crds

verify-generated: generate
	@git diff --exit-code -- engine/api charts/laiki/crds || { echo "generated files are stale: run make generate and commit"; exit 1; }

# A real kube-apiserver and etcd for envtest, built once from the Go module
# proxy and cached in .cache/envtest.
envtest:
	./scripts/envtest-binaries.sh >/dev/null

# Helm, for the chart's tests, built once from the Go module proxy and cached
# in .cache/helm.
helm:
	./scripts/helm-binary.sh >/dev/null

# The chart alone: lint, template, and the install path on envtest.
chart: envtest helm
	KUBEBUILDER_ASSETS=$$(./scripts/envtest-binaries.sh) LAIKI_HELM=$$(./scripts/helm-binary.sh) $(GO) test -count=1 -v ./test/chart/

test: test-deps envtest helm vet verify-generated fuzz-short
	KUBEBUILDER_ASSETS=$$(./scripts/envtest-binaries.sh) LAIKI_HELM=$$(./scripts/helm-binary.sh) $(GO) test -count=1 -race -timeout 20m ./...

# A short run of each fuzz test (the checked-in corpus in testdata/fuzz runs
# in every `go test` too); FUZZTIME=10m for a long one.
FUZZTIME ?= 8s
fuzz-short:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./engine/document/
	$(GO) test -run '^$$' -fuzz '^FuzzPreProcess$$' -fuzztime $(FUZZTIME) ./engine/policy/
	$(GO) test -run '^$$' -fuzz '^FuzzMerge$$' -fuzztime $(FUZZTIME) ./engine/workflow/
	$(GO) test -run '^$$' -fuzz '^FuzzRenderedIsJudged$$' -fuzztime $(FUZZTIME) ./engine/workflow/

# A small, static, non-root image of the binary, and its variant with a
# shell for CI jobs (needs Docker).
image:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .
	docker build --build-arg VERSION=$(VERSION) --target ci -t $(IMAGE)-ci .

unit:
	$(GO) test -count=1 ./engine/... ./policies/... ./cmd/...

e2e: test-deps
	$(GO) test -count=1 -v ./test/e2e/

# Speed and memory goals live here, never in timed unit tests: the Go
# benchmarks of the hot paths, then Laiki against its peers (bench/, a module
# of its own; the peers are built from the Go module proxy). BENCHMARKS.md
# has the figures. BENCH_FLAGS=-only=check (or admission, reconcile) runs one.
bench: test-deps envtest
	$(GO) test -run '^$$' -bench . -benchmem ./engine/...
	cd bench && GOWORK=off $(GO) run . $(BENCH_FLAGS)

fmt:
	gofmt -w $$(git ls-files '*.go')
