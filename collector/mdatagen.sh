#!/bin/sh
# Regenerates collector/internal/metadata, internal/metadatatest and the
# generated_*_test.go files from collector/metadata.yaml with the
# Collector's mdatagen.
#
# mdatagen v0.160.0, the version matching the Collector modules, is not
# served by the module proxy (404 for its .info and for the module's version
# list); v0.159.0 is, and its output compiles against the v0.160.0 / v1.66.0
# modules. Because the version list is missing, `go install pkg@version`
# fails while "loading deprecation"; building from a scratch module that
# requires it does not. The binary is cached in $PROCOTEL_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/procotel).
set -eu

MDATAGEN_VERSION=v0.159.0

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${PROCOTEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/procotel}
bin=$cache/mdatagen-$MDATAGEN_VERSION/mdatagen

if [ ! -x "$bin" ]; then
	echo "mdatagen.sh: building mdatagen $MDATAGEN_VERSION into $(dirname "$bin")" >&2
	src=$(dirname "$bin")/src
	mkdir -p "$src"
	cat >"$src/go.mod" <<MOD
module mdatagentool

go 1.26

require go.opentelemetry.io/collector/cmd/mdatagen $MDATAGEN_VERSION
MOD
	printf '//go:build tools\n\npackage tools\n\nimport _ "go.opentelemetry.io/collector/cmd/mdatagen"\n' >"$src/tools.go"
	(cd "$src" && GOFLAGS=-mod=mod go build -o "$bin" go.opentelemetry.io/collector/cmd/mdatagen)
fi

cd "$root/collector"
"$bin" metadata.yaml
