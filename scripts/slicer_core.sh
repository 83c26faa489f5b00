#!/usr/bin/env bash
# A Linux venv with 3D Slicer's core (PyPI slicer-core==VERSION, Kitware's wheel of Slicer's MRML,
# vtkITK, vtkSegmentationCore and module logics, no Qt) beside itk-tag from this checkout.
#
#   bash scripts/slicer_core.sh 5.12.4.0    # last stdout line: the venv's python
#
# Cache: $ITK_TAG_CACHE_DIR (default ~/.cache/itk-tag)/slicer-core-pure-VERSION; slicer-core (and the
# vtk it pins) is installed once, itk-tag (pure build: its Python files) again whenever they changed.
set -euo pipefail
version="${1:?usage: slicer_core.sh SLICER_CORE_VERSION}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${ITK_TAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/itk-tag}"
venv="$cache/slicer-core-pure-$version"
mkdir -p "$cache"
exec 9>"$cache/.slicer-core-pure-$version.lock"
flock 9  # one setup at a time; a second caller waits, then finds it done

if [ ! -f "$venv/.complete" ]; then
  printf '\n== slicer-core %s: a venv in %s\n' "$version" "$venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q "slicer-core==$version" >&2
  touch "$venv/.complete"
fi
stamp="$(cd "$root" && find python pyproject.toml -type f ! -path '*/__pycache__/*' -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-16)"
if [ "$(cat "$venv/.itk-tag-stamp" 2>/dev/null)" != "$stamp" ]; then
  ITK_TAG_PURE=1 "$venv/bin/python" -m pip install -q --no-deps --force-reinstall "$root" >&2
  echo "$stamp" >"$venv/.itk-tag-stamp"
fi
echo "$venv/bin/python"
