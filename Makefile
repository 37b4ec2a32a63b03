# mcp-authz — run `make help` for the targets.
GO        ?= go
CONFIG    ?= examples/dev/config.yaml
FUZZTIME  ?= 20s
BENCHTIME ?= 1s
GOLANGCI  ?= github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
BUF       ?= github.com/bufbuild/buf/cmd/buf@v1.75.0

.PHONY: help run build test test-go policy-check proto proto-check proto-image tsclient bench load fuzz bundle lint clean

help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Run the service on loopback with the embedded default bundle and the dev issuer.
	$(GO) run ./cmd/mcp-authz serve --config $(CONFIG)

build: ## Build bin/mcp-authz (static, CGO_ENABLED=0, as the Dockerfile ships it).
	CGO_ENABLED=0 $(GO) build -o bin/mcp-authz ./cmd/mcp-authz

test: policy-check proto-check test-go ## Run every test: Rego (opa test/check/fmt), buf lint/breaking and go test -race ./...

test-go: tsclient ## go test -race ./... (includes the Rego tests through OPA's tester and the example validation).
	$(GO) test -race -count=1 -timeout 20m ./...

tsclient: test/tsclient/node_modules/.package-lock.json ## npm ci for the TypeScript SDK client the e2e tests run (needs Node.js 18+).

test/tsclient/node_modules/.package-lock.json: test/tsclient/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 18+ and npm; test/e2e runs the official TypeScript MCP SDK client" >&2; exit 1; }
	npm ci --prefix test/tsclient --no-audit --no-fund

policy-check: ## opa test, opa check --strict and opa fmt on policies/ and examples/policies/, with the pinned OPA module.
	$(GO) tool opa test policies/
	$(GO) tool opa check --strict policies/
	$(GO) tool opa fmt --fail -l policies/
	$(GO) tool opa test examples/policies/
	$(GO) tool opa check --strict examples/policies/
	$(GO) tool opa fmt --fail -l examples/policies/

proto: ## Regenerate the Go code of proto/ (buf and protoc-gen-go through go run).
	$(GO) run $(BUF) generate

proto-check: ## buf lint (STANDARD) and buf breaking (WIRE_JSON) against the committed image proto/image.binpb.
	$(GO) run $(BUF) lint
	$(GO) run $(BUF) breaking --against proto/image.binpb

proto-image: ## Re-record proto/image.binpb, the baseline buf breaking compares with (after a release).
	$(GO) run $(BUF) build -o proto/image.binpb

bench: ## Benchmarks of the hot path (Check, parse, verify, decide, rate limits local and on a loopback redis-server), with allocations.
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./pkg/... ./test/...

load: ## Load run over loopback gRPC against the noop and parseonly floors, with ratios and targets (needs ../shared/bench; DUR, REPEATS, PEER, PROFILE).
	test/load/run.sh

fuzz: ## Run every fuzz target for FUZZTIME each.
	@for t in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$t/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$t $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./$$t || exit 1; \
	  done; \
	done

bundle: ## Rebuild bundles/default.tar.gz from policies/; with SIGNING_KEY=k.pem OUT=f.tar.gz, build a signed bundle.
ifeq ($(SIGNING_KEY),)
	$(GO) run ./bundles/gen
else
	$(GO) run ./cmd/mcp-authz bundle build -dir policies -out $(or $(OUT),bundle.tar.gz) -signing-key $(SIGNING_KEY)
endif

lint: ## gofmt, go vet and golangci-lint (pinned, through go run).
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run $(GOLANGCI) run ./...

clean: ## Remove build output.
	rm -rf bin
