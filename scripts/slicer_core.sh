#!/usr/bin/env bash
# A Python with 3D Slicer's core (the `slicer-core` wheel: Slicer's MRML, vtkITK and module
# logics, without Qt) and itk-tag from this checkout beside it (issue 22).
#
#   bash scripts/slicer_core.sh VERSION   # last stdout line: that Python (a Linux path)
#
# VERSION: 5.12.4.0 (Slicer 5.12's core) or 5.13.31053.0 (Slicer's main branch; the only 5.13
# release on the index, checked with `pip download --no-deps`); any released version works.
#
# Two layers, so that each checkout tests its own itk-tag without installing a copy of the rest:
# * base-<VERSION>-<python>/: a venv with slicer-core==VERSION and an itk-tag wheel installed with
#   its dependencies (vtk, itk, SimpleITK, numpy, ...: about 2.8 GB), made once. The itk-tag wheel
#   also puts its ITK Python module into itk/ (itk/Configuration/IOTagConfig.py, which imports
#   whichever itk_tag comes first on sys.path).
# * checkout-<hash of this checkout's path>/<VERSION>/: a small venv (no pip) whose site-packages
#   holds this checkout's itk-tag wheel (startup hook included) and a `zz-base.pth` line that
#   appends the base's site-packages to sys.path. Plain path entries come after the site folder and
#   their .pth files are not run, so this checkout's itk_tag and startup hook are the ones in use
#   (test/python/conftest.py's fresh installs do the same). Two checkouts on one machine do not
#   replace each other's itk-tag.
# The wheel is built once per content of the files that go into it (wheels/<hash>/, `pip wheel`
# reusing the checkout's build/wheel-* folder, so only a changed source file is compiled) and shared
# by every version. A warm run only hashes and checks.
#
# Cache: $ITK_TAG_CACHE_DIR (default ~/.cache/itk-tag)/slicer-core. One setup at a time (flock).
# ITK_TAG_SLICER_PYTHON: the Python (3.10 or newer, slicer-core's floor) that makes the venvs;
# default python3.
set -euo pipefail
version="${1:?usage: bash scripts/slicer_core.sh VERSION (e.g. 5.12.4.0)}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${ITK_TAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/itk-tag}"
dir="$cache/slicer-core"
python="${ITK_TAG_SLICER_PYTHON:-python3}"
log() { printf '== slicer-core: %s\n' "$*" >&2; }

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9  # one setup at a time; a second caller waits, then finds it done

tag="$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"

# The base venv first: its pip builds the wheel (Debian's python3 has no pip of its own).
base="$dir/base-$version-$tag"
if [ ! -f "$base/.complete" ]; then
  rm -rf "$base"
  "$python" -m venv "$base"
fi

# The wheel of this checkout: keyed by the content of what goes into it.
sources=(python src include superbuild cmake CMakeLists.txt pyproject.toml itk-module.cmake README.md)
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  listing="$(cd "$root" && git ls-files -co --exclude-standard -z -- "${sources[@]}" | sort -z |
    xargs -0 sha256sum 2>&1 || true)"  # a deleted file changes the key too
else
  listing="$(cd "$root" && find "${sources[@]}" -type f -not -path '*/__pycache__/*' -print0 | sort -z |
    xargs -0 sha256sum 2>&1 || true)"  # a deleted file changes the key too
fi
key="$(printf '%s\n' "$listing" | sha256sum | cut -c1-16)"
wheels="$dir/wheels"
wheel=("$wheels/$key"/itk_tag-*.whl)
if [ ! -f "${wheel[0]}" ]; then
  log "building the itk-tag wheel of $root"
  start=$SECONDS
  rm -rf "$wheels/$key.partial"
  "$base/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$wheels/$key.partial" "$root" >&2
  mv "$wheels/$key.partial" "$wheels/$key"
  wheel=("$wheels/$key"/itk_tag-*.whl)
  log "wheel built in $((SECONDS - start))s"
  # Keep the 6 newest wheels (a few checkouts and edits); the layers record which one they hold.
  find "$wheels" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' | sort -rn | tail -n +7 |
    cut -d' ' -f2- | xargs -r rm -rf
fi

if [ ! -f "$base/.complete" ]; then
  log "installing slicer-core==$version and itk-tag's dependencies into $base"
  start=$SECONDS
  "$base/bin/python" -m pip install -q --disable-pip-version-check "slicer-core==$version" "${wheel[0]}" >&2
  touch "$base/.complete"
  log "base set up in $((SECONDS - start))s"
fi
base_site="$("$base/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"

checkout="$dir/checkout-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
layer="$checkout/$version"
if [ ! -x "$layer/bin/python" ]; then
  rm -rf "$layer"
  "$python" -m venv --without-pip "$layer"
  printf '%s\n' "$root" >"$checkout/checkout"
fi
site="$("$layer/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
if [ "$(cat "$layer/.itk-tag-wheel" 2>/dev/null)" != "$key" ]; then
  log "installing this checkout's itk-tag ($key) into $layer"
  rm -rf "$site" && mkdir -p "$site"
  "$base/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-index \
    --target "$site" "${wheel[0]}" >&2
  printf '%s\n' "$base_site" >"$site/zz-base.pth"
  printf '%s\n' "$key" >"$layer/.itk-tag-wheel"
fi
echo "$layer/bin/python"
