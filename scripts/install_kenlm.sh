#!/usr/bin/env bash
# Build KenLM's lmplz and build_binary into tools/kenlm/bin (git-ignored).
#
# Source: the kenlm sdist from PyPI, the same version pyproject.toml pins for the `kenlm` Python
# module (the sdist carries lm/builder, which the Python wheel does not compile).
# Needs gcc, cmake, make and Debian's boost dev packages (program-options, system, thread, test)
# plus zlib/bz2/lzma headers; missing ones are installed with apt-get (needs root).
# Idempotent: does nothing when both binaries exist. Quiet on success; on failure prints one line
# naming the step and the log file to read.
#
# Usage: bash scripts/install_kenlm.sh        (from anywhere; paths are relative to the repo)
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$REPO/tools/kenlm"
BIN="$DEST/bin"
LOG="$DEST/build.log"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
APT_PACKAGES="libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev"

if [ -x "$BIN/lmplz" ] && [ -x "$BIN/build_binary" ]; then
    exit 0
fi

mkdir -p "$DEST"
: > "$LOG"

fail() {
    echo "install_kenlm.sh: $1 failed; see $LOG" >&2
    exit 1
}

# The kenlm version pinned in pyproject.toml, e.g. "kenlm==0.3.0" -> 0.3.0
VERSION="$(sed -n 's/.*"kenlm==\([0-9.]*\)".*/\1/p' "$REPO/pyproject.toml" | head -n 1)"
[ -n "$VERSION" ] || { echo "install_kenlm.sh: no kenlm==X pin found in $REPO/pyproject.toml" >&2; exit 1; }

# Boost and compression headers (and a C++ compiler), only the missing ones; on systems without
# dpkg the build is tried with whatever is installed.
missing=""
if command -v dpkg-query >/dev/null; then
    for pkg in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
    command -v g++ >/dev/null || command -v c++ >/dev/null || missing="$missing g++"
fi
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -q $missing >>"$LOG" 2>&1; then
        $SUDO apt-get update -q >>"$LOG" 2>&1 && $SUDO apt-get install -y -q $missing >>"$LOG" 2>&1 \
            || fail "apt-get install$missing"
    fi
fi

# The sdist only (--no-binary kenlm, never :all:, which would compile pip's own cmake from
# source). pip reads its metadata with the venv's setuptools when there is one, else it fetches
# kenlm's build requirements as wheels.
SRC_DIR="$DEST/src"
rm -rf "$SRC_DIR" && mkdir -p "$SRC_DIR"
ISOLATION=""
"$PYTHON" -c "import setuptools" >/dev/null 2>&1 && ISOLATION="--no-build-isolation"
"$PYTHON" -m pip download -q --no-deps --no-binary kenlm $ISOLATION \
    "kenlm==$VERSION" -d "$SRC_DIR" >>"$LOG" 2>&1 || fail "pip download kenlm==$VERSION"
tar -xzf "$SRC_DIR/kenlm-$VERSION.tar.gz" -C "$SRC_DIR" >>"$LOG" 2>&1 || fail "unpacking kenlm-$VERSION.tar.gz"
TREE="$SRC_DIR/kenlm-$VERSION"
[ -f "$TREE/lm/builder/lmplz_main.cc" ] || fail "finding lm/builder in the kenlm sdist"

JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
cmake -S "$TREE" -B "$TREE/build" -DCMAKE_BUILD_TYPE=Release >>"$LOG" 2>&1 || fail "cmake configure"
cmake --build "$TREE/build" --target lmplz build_binary -j "$JOBS" >>"$LOG" 2>&1 || fail "cmake build"

mkdir -p "$BIN"
cp "$TREE/build/bin/lmplz" "$TREE/build/bin/build_binary" "$BIN/" || fail "copying the binaries"
rm -rf "$SRC_DIR"
