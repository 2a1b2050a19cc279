# whatsapp-sidecar: `make help` lists the targets.
GO      ?= go
BIN     := bin/whatsapp-sidecar
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: help build test fuzz lint bench demo load clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/whatsapp-sidecar
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/whatsapp-sidecar

test: ## run every test on real PostgreSQL (TEST_DATABASE_URL, 127.0.0.1:5432, else a throwaway cluster)
	$(GO) test -race -count=1 ./...

fuzz: ## run every fuzz target a few seconds (FUZZTIME=3s)
	.ci/fuzz

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: ## run the benchmarks (figures in the issues' closing notes)
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo: build ## a demo Odoo 16 database on the local PostgreSQL and the sidecar on it
	./$(BIN) demo

clean: ## remove build outputs
	rm -rf bin

load: build ## load test, closed loop: sends, status webhooks and answers; throughput, lag, latency, RSS (see README)
	./$(BIN) load --latency 200ms
