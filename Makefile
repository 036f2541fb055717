# arcgis-token-operator
#
# Every tool the targets need is installed into ./bin by this Makefile, at a
# pinned version, from the Go module proxy. The envtest control plane
# (kube-apiserver, etcd, kubectl) is built from published Go modules by
# hack/envtest/build.sh because setup-envtest's downloads are not reachable
# from our build machines.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Image the manager is built into and deployed from (`make image` names its
# archives so; `make release` pins it to the digest).
IMAGE_REPO ?= ghcr.io/tokenoperator/arcgis-token-operator
IMG ?= $(IMAGE_REPO):$(VERSION)

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

GO ?= go
LOCALBIN ?= $(CURDIR)/bin
ENVTEST_ASSETS ?= $(LOCALBIN)/k8s
NODE_ASSETS ?= $(LOCALBIN)/node

## Tool versions (pinned)
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
GOLANGCI_LINT_VERSION ?= v2.15.0
GOVULNCHECK_VERSION ?= v1.9.0
CRD_REF_DOCS_VERSION ?= v0.3.0
HELM_DOCS_VERSION ?= v1.14.2
# The Go vulnerability database, as published on the Go module proxy (its
# data/osv folder is read directly: the database's own site is not reachable
# from our build machines). Bump it to learn of newer vulnerabilities.
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018

# Release tools: crane pushes the image (the same go-containerregistry as
# hack/image), cyclonedx-gomod writes the SBOM, actionlint checks the workflows.
CRANE_VERSION ?= v0.22.1
CYCLONEDX_GOMOD_VERSION ?= v1.10.0
ACTIONLINT_VERSION ?= v1.7.12

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
GOVULNCHECK ?= $(LOCALBIN)/govulncheck-$(GOVULNCHECK_VERSION)
CRD_REF_DOCS ?= $(LOCALBIN)/crd-ref-docs-$(CRD_REF_DOCS_VERSION)
HELM_DOCS ?= $(LOCALBIN)/helm-docs-$(HELM_DOCS_VERSION)
CRANE ?= $(LOCALBIN)/crane-$(CRANE_VERSION)
CYCLONEDX_GOMOD ?= $(LOCALBIN)/cyclonedx-gomod-$(CYCLONEDX_GOMOD_VERSION)
ACTIONLINT ?= $(LOCALBIN)/actionlint-$(ACTIONLINT_VERSION)
KUBECTL ?= $(ENVTEST_ASSETS)/kubectl

# Generated files: `make test` fails when these drift from the markers.
GENERATED = config/crd/bases config/rbac/role.yaml api/v1alpha1/zz_generated.deepcopy.go
# Generated docs: `make test` fails when these drift from the API types and the chart's values.
GENERATED_DOCS = docs/reference/api.md dist/chart/README.md

# How long each fuzz target runs in `make fuzz` (and in CI).
FUZZTIME ?= 30s

LDFLAGS = -X github.com/tokenoperator/arcgis-token-operator/internal/version.Version=$(VERSION)

# The image (make image): platforms, output, and what its labels say. The
# creation time is the commit's, so that one commit gives one digest.
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
IMAGE_DIR ?= $(CURDIR)/dist/image
IMAGE_SOURCE ?= https://github.com/tokenoperator/arcgis-token-operator
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# The Dockerfile builds with the same flags (hack/image checks that).
IMAGE_LDFLAGS = -s -w $(LDFLAGS)
IMAGE_BUILDER ?= $(LOCALBIN)/image-builder

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Getting started

.PHONY: demo
demo: envtest build ## Run the operator on a local control plane with the ArcGIS simulator (Ctrl-C stops it).
	$(GO) run ./hack/demo

# Arguments of `make bench`, e.g. BENCH_ARGS="-n 1000 -profile" or BENCH_ARGS=-soak (see `go run ./hack/bench -h`).
BENCH_ARGS ?=

.PHONY: bench
bench: envtest build ## Measure how the operator scales (1,000 and 10,000 ArcGISTokens) against the API server's own pace; BENCH_ARGS=-soak: the 30-minute soak. Writes BENCHMARKS.md. Not part of `make test`.
	$(GO) run ./hack/bench $(BENCH_ARGS)

.PHONY: test-alerts
test-alerts: ## Unit-test the PrometheusRule's alerts with promtool (Debian package prometheus).
	hack/test-alerts.sh

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and the RBAC ClusterRole from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify-generated
verify-generated: ## Fail when generated files differ from what the markers produce.
	@hack/verify-generated.sh "$(MAKE)" $(GENERATED)

.PHONY: docs
docs: crd-ref-docs helm-docs ## Generate the API reference (docs/reference/api.md) from api/ and the Helm chart's values table (dist/chart/README.md) from its values.yaml.
	$(CRD_REF_DOCS) --source-path=./api --config=hack/crd-ref-docs/config.yaml --renderer=markdown \
		--templates-dir=hack/crd-ref-docs/templates/markdown --output-path=docs/reference/api.md --log-level=ERROR
	$(HELM_DOCS) --chart-search-root=dist/chart --template-files=README.md.gotmpl --sort-values-order=file --log-level=warning

.PHONY: verify-docs
verify-docs: ## Fail when the generated docs differ from what make docs writes.
	@VERIFY_TARGETS=docs hack/verify-generated.sh "$(MAKE)" $(GENERATED_DOCS)

.PHONY: fmt
fmt: ## Format the code (gofmt -s).
	gofmt -s -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: verify-fmt
verify-fmt: ## Fail when a Go file is not gofmt-formatted.
	@out=$$(gofmt -s -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: vet
vet: ## Run go vet (the end-to-end tests too).
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	$(GO) vet -tags image ./test/image/
	cd hack/image && $(GO) vet ./...

.PHONY: test
test: verify-generated verify-docs verify-fmt vet envtest test-chart test-image-builder ## Check generated files and docs, gofmt and vet, then run every test against a real kube-apiserver and etcd.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test ./... -count=1 -timeout 20m -coverprofile cover.out

# Arguments of `make simulate`: SEEDS=N runs seeds 1..N (default: as many as
# make test runs), SEED=x replays one seed and prints its whole trace, STRICT=1
# also fails on the invariants the core breaks today (failingToday in
# controllers/sim_invariants_test.go), SURVEY=1 lists the first violation of
# every invariant per seed without failing.
SEEDS ?=
SEED ?=
STRICT ?=
SURVEY ?=

.PHONY: simulate
simulate: envtest ## The core's deterministic simulation: SEEDS=N seeds × 7 simulated days of faults, invariants checked at every step; SEED=x replays one; STRICT=1 fails on today's known defects too.
	SIMULATE_SEEDS="$(SEEDS)" SIMULATE_SEED="$(SEED)" SIMULATE_STRICT="$(STRICT)" SIMULATE_SURVEY="$(SURVEY)" \
		KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test ./controllers -run '^TestSimulation$$' -count=1 -v -timeout 0

.PHONY: test-chart
test-chart: envtest ## Render the Helm chart (dist/chart) and check it against config/ (built with kubectl kustomize); test/chart is a Go module of its own.
	cd test/chart && KUBECTL="$(KUBECTL)" $(GO) test ./... -count=1

.PHONY: test-image-builder
test-image-builder: ## Test hack/image (reproducible layers, the image's files, user and labels, the Dockerfile describing the same image); a Go module of its own.
	cd hack/image && $(GO) test ./... -count=1

.PHONY: test-image
test-image: envtest image ## Boot the image with runc (as root; needs Debian's runc and umoci): read-only root, uid 65532, healthz/readyz, one ArcGISToken Ready.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -tags image ./test/image/ -count=1 -timeout 10m -v

.PHONY: test-e2e
test-e2e: envtest build ## Run the end-to-end tests (the demo, about 2 minutes).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(GO) test -tags e2e ./test/e2e/ -count=1 -timeout 10m -v

.PHONY: test-esri
test-esri: ## Drive Esri's own JavaScript client (test/esri, @esri/arcgis-rest-request 4.10.2) against the simulator; needs node and npm.
	@if grep -q '://' test/esri/package-lock.json; then echo "test/esri/package-lock.json records addresses: regenerate it with test/esri/.npmrc"; exit 1; fi
	cd test/esri && npm ci --no-audit --no-fund
	$(GO) run ./test/esri/driver -timeout 5m -- node test/esri/conformance.mjs

.PHONY: test-node
test-node: envtest node-binaries image ## As root (Debian's containerd and runc): deploy the operator from config/default with kubectl apply -k and the image from make image on a real node (containerd + kubelet) and follow a token through rotations; test/node is a Go module of its own.
	cd test/node && $(GO) vet ./... && KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" NODE_ASSETS="$(NODE_ASSETS)" IMAGE_DIR="$(IMAGE_DIR)" \
		$(GO) test . -count=1 -timeout 30m -v

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s).
	@hack/fuzz.sh $(FUZZTIME)

# golangci-lint first, then govulncheck: findings in our own code come first,
# being the quickest to fix; make stops at the first that fails.
.PHONY: lint
lint: golangci-lint ## Run golangci-lint, then govulncheck (make vulncheck); stops at the first that fails.
	$(GOLANGCI_LINT) run ./...
	@$(MAKE) --no-print-directory vulncheck

.PHONY: vulncheck
vulncheck: govulncheck ## Fail on known vulnerabilities in module code the operator calls (standard-library ones are reported).
	$(GO) mod download golang.org/x/vulndb@$(VULNDB_VERSION)
	$(GOVULNCHECK) -db "file://$$($(GO) env GOMODCACHE)/golang.org/x/vulndb@$(VULNDB_VERSION)/data/osv" -format json ./... \
		| $(GO) run ./hack/vulncheck

##@ Build

.PHONY: build
build: ## Build the manager, the ArcGIS simulator and the kubectl plugin (kubectl-arcgistoken) into bin/.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/manager ./cmd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/arcgis-sim ./cmd/arcgis-sim
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/kubectl-arcgistoken ./cmd/kubectl-arcgistoken

.PHONY: run
run: manifests generate ## Run the manager against the cluster in $KUBECONFIG (or --kubeconfig via ARGS).
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd $(ARGS)

.PHONY: image
image: image-builder ## Build the manager image for IMAGE_PLATFORMS without a container engine: dist/image/oci (OCI layout), dist/image/manager-ARCH.tar (docker archives), dist/image/ref.
	@for p in $(IMAGE_PLATFORMS); do \
		echo "go build $$p"; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags "$(IMAGE_LDFLAGS)" \
			-o $(LOCALBIN)/image/manager-$${p%/*}-$${p#*/} ./cmd; \
	done
	$(IMAGE_BUILDER) build -out $(IMAGE_DIR) -repository $(IMAGE_REPO) -version $(VERSION) \
		-revision $(REVISION) -source $(IMAGE_SOURCE) -created $(SOURCE_DATE_EPOCH) \
		$(foreach p,$(IMAGE_PLATFORMS),-binary $(p)=$(LOCALBIN)/image/manager-$(subst /,-,$(p)))

# Where `make release` writes (CI attaches these files to a GitHub release).
DIST ?= $(CURDIR)/dist
HELM_PACKAGE ?= $(LOCALBIN)/helm-package
RELEASE_TOOLS = KUSTOMIZE=$(KUSTOMIZE) CYCLONEDX_GOMOD=$(CYCLONEDX_GOMOD) HELM_PACKAGE=$(HELM_PACKAGE)

.PHONY: release
release: ## Write release VERSION=vX.Y.Z into dist/: image (OCI layout, archives), install.yaml and chart pinned to its digest, SBOM, SHA256SUMS, notes from CHANGELOG.md.
	hack/release/release.sh notes $(VERSION) $(DIST)
	$(MAKE) image VERSION=$(VERSION) IMAGE_DIR=$(DIST)/image
	$(MAKE) release-artifacts VERSION=$(VERSION) DIST=$(DIST)

.PHONY: release-artifacts
release-artifacts: kustomize cyclonedx-gomod helm-package ## The release's files around an image already in DIST/image (make release runs it after make image).
	@for step in notes manifests chart sbom sums; do \
		echo "release: $$step"; \
		$(RELEASE_TOOLS) hack/release/release.sh $$step $(VERSION) $(DIST); \
	done
	@ls -l $$(hack/release/release.sh assets $(VERSION) $(DIST))

.PHONY: release-assets
release-assets: ## Print the files of release VERSION in DIST that a GitHub release attaches.
	@hack/release/release.sh assets $(VERSION) $(DIST)

.PHONY: image-push
image-push: crane ## Push the image index in IMAGE_DIR/oci as IMAGE_REPO:VERSION (crane; logs in first when REGISTRY_PASSWORD is set) and check the pushed digest.
	@if [ -n "$${REGISTRY_PASSWORD:-}" ]; then \
		echo "$$REGISTRY_PASSWORD" | $(CRANE) auth login "$(firstword $(subst /, ,$(IMAGE_REPO)))" -u "$$REGISTRY_USER" --password-stdin; \
	fi
	@want=$$(sed 's/.*@//' $(IMAGE_DIR)/ref); \
	pushed=$$($(CRANE) push $(IMAGE_DIR)/oci $(IMAGE_REPO):$(VERSION)); \
	echo "pushed $$pushed"; \
	if [ "$${pushed##*@}" != "$$want" ]; then echo "pushed digest $${pushed##*@}, built $$want" >&2; exit 1; fi

.PHONY: image-reproducible
image-reproducible: image ## Build the image again from a clean clone of HEAD with an empty Go build cache, and fail unless the digest is the same (slow: a cold build of two platforms).
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	git clone -q "$(CURDIR)" "$$dir/src" && git -C "$$dir/src" checkout -q "$(REVISION)"; \
	GOCACHE="$$dir/gocache" $(MAKE) -s -C "$$dir/src" image VERSION=$(VERSION) IMAGE_DIR="$$dir/image" LOCALBIN="$$dir/bin" >/dev/null; \
	a=$$(cat $(IMAGE_DIR)/ref); b=$$(cat "$$dir/image/ref"); \
	echo "here:        $$a"; echo "clean clone: $$b"; \
	if [ "$$a" != "$$b" ]; then echo "the image is not reproducible" >&2; exit 1; fi

.PHONY: docker-build
docker-build: ## Build the manager image with a container engine (the same image as make image, for the host's platform).
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
		--build-arg CREATED=$$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	docker push $(IMG)

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster in $KUBECONFIG.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs (and every ArcGISToken) from the cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator (CRDs, RBAC, manager) with image IMG.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found -f -

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd, kubectl and kube-controller-manager for envtest into bin/k8s (cold: about 5 min; cached by stamps).
	hack/envtest/build.sh $(ENVTEST_ASSETS)

# Built every time (the Go build cache makes that quick), so that a change to
# hack/image is never missed; its dependencies are pinned in hack/image/go.mod.
.PHONY: image-builder
image-builder: | $(LOCALBIN)
	cd hack/image && $(GO) build -o $(IMAGE_BUILDER) .

# The Helm library of test/chart, as `helm package` (no helm binary here).
.PHONY: helm-package
helm-package: | $(LOCALBIN)
	cd test/chart && $(GO) build -o $(HELM_PACKAGE) ./cmd/helm-package

.PHONY: node-binaries
node-binaries: ## Build kubelet and kube-scheduler for make test-node into bin/node (cold: about 4 min after make envtest; cached by stamps).
	hack/envtest/build.sh $(NODE_ASSETS) kubelet kube-scheduler

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: crd-ref-docs
crd-ref-docs: $(CRD_REF_DOCS)
$(CRD_REF_DOCS): | $(LOCALBIN)
	$(call go-install-tool,$(CRD_REF_DOCS),github.com/elastic/crd-ref-docs,$(CRD_REF_DOCS_VERSION))

.PHONY: helm-docs
helm-docs: $(HELM_DOCS)
$(HELM_DOCS): | $(LOCALBIN)
	$(call go-install-tool,$(HELM_DOCS),github.com/norwoodj/helm-docs/cmd/helm-docs,$(HELM_DOCS_VERSION))

.PHONY: govulncheck
govulncheck: $(GOVULNCHECK)
$(GOVULNCHECK): | $(LOCALBIN)
	$(call go-install-tool,$(GOVULNCHECK),golang.org/x/vuln/cmd/govulncheck,$(GOVULNCHECK_VERSION))

.PHONY: crane
crane: $(CRANE)
$(CRANE): | $(LOCALBIN)
	$(call go-install-tool,$(CRANE),github.com/google/go-containerregistry/cmd/crane,$(CRANE_VERSION))

.PHONY: cyclonedx-gomod
cyclonedx-gomod: $(CYCLONEDX_GOMOD)
$(CYCLONEDX_GOMOD): | $(LOCALBIN)
	$(call go-install-tool,$(CYCLONEDX_GOMOD),github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod,$(CYCLONEDX_GOMOD_VERSION))

.PHONY: actionlint
actionlint: $(ACTIONLINT)
$(ACTIONLINT): | $(LOCALBIN)
	$(call go-install-tool,$(ACTIONLINT),github.com/rhysd/actionlint/cmd/actionlint,$(ACTIONLINT_VERSION))

# go-install-tool installs package $2 at version $3 as $1 (a versioned file name,
# so that bumping a version in this Makefile installs the new one).
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
echo "Installing $(2)@$(3)"; \
rm -f "$(1)"; \
GOBIN="$(LOCALBIN)" $(GO) install "$(2)@$(3)"; \
mv "$$(echo "$(1)" | sed "s/-$(3)$$//")" "$(1)"; \
}
endef
