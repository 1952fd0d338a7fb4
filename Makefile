# procotel — build, test, generate, lint, bench.
GO      ?= go
BIN     ?= bin/procotel
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test test-unpriv generate lint fuzz bench storm freebsd otelcol bench-storm clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/procotel

# The whole suite. As root it also loads the real eBPF programs, runs the
# conformance suite against the kernel and the end-to-end tests; without
# root those tests skip and say why.
test:
	$(GO) vet ./...
	sh freebsd/build.sh
	$(GO) test -count=1 -tags dtracefake ./freebsd/...
	$(GO) test -count=1 -timeout 20m ./...

test-unpriv:
	$(GO) test -count=1 ./semconv/... ./config/... ./pipeline/... ./terminal/... ./backends/replay/...

# Regenerate the committed generated code: the bpf2go output (needs clang
# and libbpf headers) and the Collector receiver's metadata (mdatagen).
generate:
	$(GO) generate ./...
	sh collector/mdatagen.sh

# gofmt, go vet for Linux and FreeBSD, staticcheck (pinned as a tool in
# go.mod) for both, and the import directions of the design's package table.
lint:
	@out=$$(gofmt -l . | grep -v '_bpfe[lb]\.go$$'); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=freebsd CGO_ENABLED=0 $(GO) vet ./...
	$(GO) tool staticcheck ./...
	GOOS=freebsd CGO_ENABLED=0 $(GO) tool staticcheck ./...
	$(GO) test -count=1 ./internal/layout/

# Every fuzz target over outside input, each for FUZZTIME (default 20s):
# the filter language, the redactor, the config loader, the replay reader
# and the two kernel record decoders. Findings land in testdata/fuzz.
FUZZTIME ?= 20s
FUZZ_TARGETS = \
	./pipeline/:FuzzFilterParse \
	./pipeline/:FuzzRedactArgv \
	./linux/:FuzzDecode \
	./freebsd/:FuzzDecode
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t#*:}; \
	  echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./semconv/... ./pipeline/... ./terminal/... ./linux/... ./export/...

# Storm benchmark against bpftrace, forkstat and auditd (root; about 30 min):
# writes docs/storm.md and docs/storm.svg.
bench-storm:
	$(GO) run ./cmd/procotel-storm -rounds 3 -seconds 5 \
	  -scenarios fork@0,exec@0,execfail@0,signal@0,thread@0,build@0,exec@1000 \
	  -md docs/storm.md -svg docs/storm.svg

# Fork/exec/exit storm with procotel attached vs not (root).
storm:
	$(GO) run ./cmd/procotel-storm -scenarios fork@0,exec@0 -monitors none,procotel

# FreeBSD: build + vet without cgo, the libdtrace shim and a cgo binary
# cross-compiled with zig (freebsd/zig.sh installs it from PyPI into
# .cache/zig on first use); artifacts in bin/freebsd.
freebsd:
	OUT=$(CURDIR)/bin/freebsd sh freebsd/build.sh

# The otelcol-procotel Collector distribution (procotel receiver, otlp,
# otlphttp and debug exporters, batch processor) into bin/otelcol-procotel.
otelcol:
	sh collector/build.sh

clean:
	rm -rf bin
