#!/bin/sh
# build.sh: cross-checks of the FreeBSD backend from any host with Go and
# python3. Run from anywhere; artifacts go to $OUT (default: a temporary
# directory). zig is freebsd/zig.sh, which installs the pinned ziglang from
# PyPI into .cache/zig on first use; ZIG=zig uses a zig of your own.
#
#   1. GOOS=freebsd CGO_ENABLED=0: go build ./... and go vet ./...
#      (the dtrace backend then reports ErrNoCgo; kqueue works), the
#      FreeBSD package tests and the conformance workload binary.
#   2. The shim and the ABI checks compiled for x86_64-freebsd.14.0 with
#      zig cc: dtabi.h's static assertions, kinfo_check.c against FreeBSD's
#      own sys/user.h and sys/event.h.
#   3. A FreeBSD amd64 binary with cgo, linked against a stub libdtrace.so
#      built from dtabi.h (the real /lib/libdtrace.so.2 is loaded at run
#      time): ./cmd/procotel, and the small ./freebsd/cmd/dtracecheck.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d)}
TARGET=x86_64-freebsd.14.0
cd "$ROOT"

echo "== 1. GOOS=freebsd CGO_ENABLED=0 build and vet of the whole module"
GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 go build ./...
GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 go vet ./...
GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 go test -c -o "$OUT/freebsd.test" ./freebsd/
GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 go test -c -o "$OUT/backendtest.test" ./backends/backendtest/
GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 go build -o "$OUT/workload" ./backends/backendtest/workload
GOOS=freebsd GOARCH=arm64 CGO_ENABLED=0 go vet ./backends/...
echo "conformance workload for FreeBSD: ok"
GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0 go build -o "$OUT/procotel-nocgo" ./cmd/procotel
echo "cmd/procotel (no cgo, kqueue backend only): ok"

echo "== 2. shim ABI checks with zig cc -target $TARGET"
ZIG=${ZIG:-sh $ROOT/freebsd/zig.sh}
# Install (first run) and check zig before anything is built with it.
$ZIG version >/dev/null || { echo "build.sh: zig does not run: $ZIG version" >&2; exit 1; }
# cgo wants CC to be one command: wrap zig.
cat >"$OUT/zcc" <<WRAP
#!/bin/sh
exec $ZIG cc -target $TARGET "\$@"
WRAP
chmod +x "$OUT/zcc"
printf '#include "freebsd/shim/dtabi.h"\n' >"$OUT/dtabi_check.c"
"$OUT/zcc" -c -Wall -Werror -I. -o "$OUT/dtabi_check.o" "$OUT/dtabi_check.c"
"$OUT/zcc" -c -Wall -Werror -o "$OUT/kinfo_check.o" freebsd/shim/kinfo_check.c
"$OUT/zcc" -shared -fPIC -Wall -Werror -Wl,-soname,libdtrace.so.2 \
	-o "$OUT/libdtrace.so" freebsd/shim/stub_libdtrace.c
echo "dtabi.h, kinfo_check.c, stub libdtrace.so: ok"

echo "== 3. FreeBSD amd64 binary with cgo (shim linked against the stub)"
export GOOS=freebsd GOARCH=amd64 CGO_ENABLED=1 CC="$OUT/zcc" CGO_LDFLAGS="-L$OUT"
go vet ./freebsd/...
go test -c -o "$OUT/freebsd-cgo.test" ./freebsd/
BIN="$OUT/procotel"
go build -o "$BIN" ./cmd/procotel
echo "built ./cmd/procotel with the libdtrace backend"
go build -o "$OUT/dtracecheck" ./freebsd/cmd/dtracecheck
file "$BIN" 2>/dev/null || true
if command -v readelf >/dev/null 2>&1; then
	readelf -d "$BIN" | grep NEEDED
	readelf -d "$BIN" | grep -q 'libdtrace\.so\.2' || { echo "build.sh: $BIN does not link libdtrace.so.2" >&2; exit 1; }
fi
echo "artifacts in $OUT"
