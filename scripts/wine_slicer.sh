#!/usr/bin/env bash
# 3D Slicer's core for the "Windows (wine)" tests: the Windows wheels of slicer-core and the vtk it
# pins, unzipped into a cached folder that test/python/wine.py adds to a Windows CPython's path.
#
#   bash scripts/wine_slicer.sh     # last stdout line: that site-packages folder (a Linux path)
#
# The Windows CPython itself (and numpy) is scripts/wine.sh's. slicer-core 5.13.31053.0 (Slicer's
# main branch) needs vtk==9.6.2, whose Windows wheel imports under wine 8 and the Windows CPython 3.13.
# Like wine.sh: `pip download --platform win_amd64`, unzipped (pip crashes under wine), .pyc compiled
# once under wine. Cache: $ITK_TAG_WINE_DIR (default ~/.cache/itk-tag/wine)/slicer-<key>.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_exe="$(bash "$root/scripts/wine.sh" | tail -n 1)"

cache="${ITK_TAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/itk-tag}"
wine_dir="${ITK_TAG_WINE_DIR:-$cache/wine}"
pins=(slicer-core==5.13.31053.0 vtk==9.6.2)
key="$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-12)"
site="$wine_dir/slicer-$key"

export WINEPREFIX="$wine_dir/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
exec 9>"$wine_dir/.slicer-lock"
flock 9

if [ ! -f "$site/.complete" ]; then
  printf '\n== wine: Slicer core (%s) in %s\n' "${pins[*]}" "$site" >&2
  start=$SECONDS
  pip=(python3 -m pip)
  venv_python="${ITK_TAG_VENV:-$root/.venv}/bin/python"
  [ -x "$venv_python" ] && pip=("$venv_python" -m pip)
  downloads="$wine_dir/downloads"
  mkdir -p "$downloads"
  "${pip[@]}" download -q --no-deps --only-binary :all: --platform win_amd64 --python-version 3.13 \
    --implementation cp -d "$downloads" "${pins[@]}" >&2
  work="$site.partial"
  rm -rf "$work"
  mkdir -p "$work"
  python3 - "$downloads" "$work" "${pins[@]}" <<'PY'
"""Unzip the pinned Windows wheels into one folder."""
import re
import sys
import zipfile
from pathlib import Path

downloads, work, pins = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
for pin in pins:
    name, version = pin.split("==")
    pattern = re.sub(r"[-_.]+", "_", name).lower() + "-" + re.escape(version) + "-"
    (wheel,) = [w for w in downloads.glob("*win_amd64.whl") if re.match(pattern, w.name.lower())]
    zipfile.ZipFile(wheel).extractall(work)
PY
  windows_work="Z:${work//\//\\}"
  # -j 1: a process pool hangs under wine 8. Piped: a Windows Python whose stdout is a file dies.
  env -u PYTHONDONTWRITEBYTECODE wine "$python_exe" -W ignore -m compileall -q -j 1 "$windows_work" 2>&1 \
    | cat >/dev/null
  wine "$python_exe" -c "import sys; sys.path.insert(0, r'$windows_work'); import slicer, vtk; \
print('wine: slicer-core', vtk.vtkVersion.GetVTKVersion(), slicer.vtkMRMLScene)" 2>&1 | cat >&2
  touch "$work/.complete"
  rm -rf "$site"
  mv "$work" "$site"
  printf '== wine: Slicer core set up in %ss\n' "$((SECONDS - start))" >&2
fi
echo "$site"
