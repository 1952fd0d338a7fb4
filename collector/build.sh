#!/bin/sh
# Builds the otelcol-procotel Collector distribution from
# collector/otelcol-procotel/manifest.yaml into bin/otelcol-procotel, or
# the distribution of another builder manifest of this tree (such as
# packaging/kubernetes/manifest.yaml, the Kubernetes node agent).
#
# The Collector builder (ocb) is installed once into a cache directory
# ($PROCOTEL_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/procotel). The
# manifest's replace points the procotel module at this work tree, so the
# distribution contains the receiver as it is checked out. On FreeBSD the
# build enables cgo: the DTrace backend calls libdtrace.
#
# Usage: collector/build.sh [output-binary [manifest]]
set -eu

BUILDER_VERSION=v0.160.0

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bin/otelcol-procotel}
manifest=${2:-$root/collector/otelcol-procotel/manifest.yaml}
if [ ! -f "$manifest" ]; then
	echo "build.sh: no builder manifest $manifest (the second argument names one, e.g. packaging/kubernetes/manifest.yaml)" >&2
	exit 2
fi
# The binary is dist.name.
name=$(awk '/^dist:/ { d = 1; next } /^[^ ]/ { d = 0 } d && /^  name: / { print $2; exit }' "$manifest")
if [ -z "$name" ]; then
	echo "build.sh: $manifest has no dist.name" >&2
	exit 2
fi
cache=${PROCOTEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/procotel}
builder=$cache/builder-$BUILDER_VERSION/builder
work=$cache/$name-build

if [ ! -x "$builder" ]; then
	echo "build.sh: installing the Collector builder $BUILDER_VERSION into $(dirname "$builder")" >&2
	GOBIN=$(dirname "$builder") go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"
fi

cgo=false
if [ "$(uname -s)" = FreeBSD ]; then
	cgo=true
fi

# The effective manifest: absolute output path and replace, cgo per OS.
mkdir -p "$work"
awk -v work="$work" -v root="$root" -v cgo="$cgo" '
	/^  output_path: / { print "  output_path: " work "/dist"; print "  cgo_enabled: " cgo; next }
	/^  - github.com\/procotel\/procotel => / { print "  - github.com/procotel/procotel => " root; next }
	{ print }
' "$manifest" >"$work/manifest.yaml"

"$builder" --config "$work/manifest.yaml"
mkdir -p "$(dirname "$out")"
cp "$work/dist/$name" "$out"
echo "build.sh: built $out" >&2
