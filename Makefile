# procotel — build, test, generate, lint, bench.
GO      ?= go
BIN     ?= bin/procotel
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test test-unpriv generate lint fuzz bench storm freebsd otelcol bench-storm image deb clean

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
	$(GO) build -o bin/staticcheck honnef.co/go/tools/cmd/staticcheck
	bin/staticcheck ./...
	GOOS=freebsd CGO_ENABLED=0 bin/staticcheck ./...
	$(GO) test -count=1 ./internal/layout/

# Every fuzz target over outside input, each for FUZZTIME (default 20s):
# the filter language, the redactor, the config loader, the replay reader
# and the two kernel record decoders. Findings land in testdata/fuzz.
FUZZTIME ?= 20s
FUZZ_TARGETS = \
	./pipeline/:FuzzFilterParse \
	./pipeline/:FuzzRedactArgv \
	./config/:FuzzDecodeYAML \
	./config/:FuzzFlags \
	./backends/replay/:FuzzReplay \
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

# Storm benchmark against bpftrace, forkstat and auditd (root; about 25 min):
# writes docs/storm.md and docs/storm.svg.
bench-storm:
	$(GO) run ./cmd/procotel-storm -rounds 5 -seconds 4 \
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

# The otelcol-procotel Collector distribution (procotel receiver, otlp_grpc,
# otlp_http and debug exporters, OTLP receiver, file_storage, batch
# processor) into bin/otelcol-procotel.
otelcol:
	sh collector/build.sh

# Container image (packaging/Dockerfile, FROM scratch): a static binary
# built here and a context of only bin/image/, so no base or Go image is
# pulled. make image IMAGE=name:tag
IMAGE   ?= procotel:$(VERSION)
CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt

# The static binary the image and the .deb carry (no libc dependency).
STATIC_BUILD = CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)"

image:
	rm -rf bin/image && mkdir -p bin/image
	$(STATIC_BUILD) -o bin/image/procotel ./cmd/procotel
	cp $(CA_CERTS) bin/image/ca-certificates.crt
	docker build -f packaging/Dockerfile -t $(IMAGE) bin/image

# The .deb (packaging/nfpm.yaml): binary, systemd unit, sysusers.d file and
# default configuration, into bin/deb (nfpm.yaml names the binary's
# path there). nfpm runs from its own tool
# module, packaging/nfpm.mod, pinned there. A version that is no release
# tag becomes 0.0.0~git<describe>, which sorts before any release.
DEB_DIR      = bin/deb
DEB_ARCH    ?= $(shell $(GO) env GOARCH)
DEB_VERSION ?= $(shell v='$(VERSION)'; case $$v in (v[0-9]*) echo "$${v#v}";; ([0-9]*) echo "$$v";; (*) echo "0.0.0~git$$v";; esac)

deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	$(STATIC_BUILD) -o $(DEB_DIR)/procotel ./cmd/procotel
	DEB_ARCH=$(DEB_ARCH) DEB_VERSION=$(DEB_VERSION) \
	  $(GO) tool -modfile=packaging/nfpm.mod nfpm package \
	  --config packaging/nfpm.yaml --packager deb --target $(DEB_DIR)/

clean:
	rm -rf bin
