#!/bin/sh
# zig.sh ARG...: runs zig ARG..., the zig that freebsd/build.sh cross-
# compiles the FreeBSD cgo shim with. On first use it installs the pinned
# ziglang wheel from PyPI into a project-local cache with the first python3
# on PATH (python3 -m pip install --target); later runs use the cache and
# touch no network.
#
#   PROCOTEL_ZIG_CACHE  where the wheel goes (default: .cache/zig in the
#                       repository, which .gitignore ignores)
#   PYTHON              the Python that installs it (default: python3)
#
# `sh freebsd/zig.sh version` installs it and prints the version.
set -eu

ZIG_VERSION=0.15.2

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PROCOTEL_ZIG_CACHE:-$ROOT/.cache/zig}
PYTHON=${PYTHON:-python3}
DIR=$CACHE/ziglang-$ZIG_VERSION
BIN=$DIR/ziglang/zig

fail() {
	echo "zig.sh: $*" >&2
	exit 1
}

install_zig() {
	command -v "$PYTHON" >/dev/null 2>&1 ||
		fail "no $PYTHON on PATH to install zig with: install Python 3, or put zig $ZIG_VERSION on PATH and run with ZIG=zig"
	"$PYTHON" -m pip --version >/dev/null 2>&1 ||
		fail "$(command -v "$PYTHON") has no pip (python3 -m pip fails), so zig cannot be installed: run '$PYTHON -m ensurepip' (Debian/Ubuntu: apt-get install python3-pip python3-venv, then recreate the venv), or put zig $ZIG_VERSION on PATH and run with ZIG=zig"
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.install.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	trap 'rm -rf "$tmp"; exit 130' HUP INT TERM
	echo "zig.sh: installing ziglang $ZIG_VERSION from PyPI into $DIR (once)" >&2
	"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
		--no-deps --only-binary :all: --target "$tmp" "ziglang==$ZIG_VERSION" ||
		fail "$PYTHON -m pip install ziglang==$ZIG_VERSION failed (see above): it needs https://pypi.org; offline, put zig $ZIG_VERSION on PATH and run with ZIG=zig"
	[ -x "$tmp/ziglang/zig" ] || fail "the ziglang $ZIG_VERSION wheel has no ziglang/zig executable (in $tmp)"
	# Move into place in one rename, so an interrupted install leaves no
	# half cache; a concurrent run that finished first is kept.
	if [ ! -x "$BIN" ]; then
		rm -rf "$DIR"
		mv "$tmp" "$DIR" || fail "cannot move $tmp to $DIR"
	fi
	rm -rf "$tmp"
	trap - EXIT HUP INT TERM
}

[ -x "$BIN" ] || install_zig
exec "$BIN" "$@"
