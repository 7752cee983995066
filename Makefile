# Scouter server (Go). `make run` brings the whole stack up on embedded
# defaults; `make test` installs what is missing, starts what the tests need
# on their own ports and runs the suite.

SHELL := /bin/bash
GO    ?= go
BIN   := .local/bin

.PHONY: help run deps down test bench generate check-generated migrate build lint fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

run: ## Postgres + Temporal dev server + worker + server, logs here; Ctrl-C stops all
	@bash .ci/dev.sh

deps: ## start only Postgres and the Temporal dev server (for development)
	@bash .ci/dev.sh deps

down: ## stop the dev Postgres and Temporal dev server
	@bash .ci/dev.sh down

test: ## install what is missing, start test services, run every check and test
	@bash .ci/test.sh $(ARGS)

bench: ## benchmarks, each printed beside a baseline measured in the same run
	@bash .ci/bench.sh

generate: ## regenerate protobuf and sqlc code
	@bash .ci/generate.sh

check-generated: ## fail when generated code is stale
	@bash .ci/generate.sh --check

migrate: build ## apply database migrations to DATABASE_URI (default: the dev cluster)
	@DATABASE_URI="$${DATABASE_URI:-$$(bash .ci/pg.sh url dev)}" $(BIN)/scouter-server migrate

build: ## build scouter-server and scouter-worker into .local/bin
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/scouter-server ./cmd/server
	$(GO) build -o $(BIN)/scouter-worker ./cmd/worker

lint: ## gofmt, go vet, staticcheck, workflowcheck, generated code
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@bash .ci/deps.sh >/dev/null && bash -c 'source .ci/lib.sh && staticcheck ./... && workflowcheck ./...'
	@bash .ci/generate.sh --check

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## remove built binaries (keeps the local database and Temporal history)
	rm -rf $(BIN)
