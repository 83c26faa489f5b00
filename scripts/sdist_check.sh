#!/usr/bin/env bash
# CI for the sdist (issue 11): build it from a fresh clone, pip install it into
# a fresh venv (network: package registries only), read a sample through
# SimpleITK; then again from a user-provided ITK source tree
# (ITK_TAG_ITK_SOURCE_DIR: Debian's orig tarball unpacked) into an empty cache.
#   bash scripts/sdist_check.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/itk-tag-sdist-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

git clone -q "$root" "$work/clone"
python3 -m venv "$work/venv"
py="$work/venv/bin/python"
"$py" -m pip install -q build
"$py" -m build -q --sdist -o "$work/dist" "$work/clone" >/dev/null
sdist=("$work"/dist/itk_tag-*.tar.gz)
echo "sdist_check: $(basename "${sdist[0]}")"

smoke() {
  (cd "$work" && "$py" - "$root/test/data/sandbox-test01.dcm.tag" <<'PY'
import sys
import itk_tag  # noqa: F401  (registers the plugin for SimpleITK)
import SimpleITK as sitk
image = sitk.ReadImage(sys.argv[1])
assert image.GetSize() == (512, 512, 1), image.GetSize()
print("sdist_check: read", sys.argv[1], image.GetSize(), "via", itk_tag.__file__)
PY
  )
}

"$py" -m pip install -q "${sdist[0]}"
smoke

# The same sdist with ITK_TAG_ITK_SOURCE_DIR: ITK compiled from that tree.
cache="${ITK_TAG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/itk-tag}"
tarball=("$cache"/downloads/insighttoolkit5_5.2.1.orig.tar.*)
mkdir -p "$work/itk-src"
tar -xf "${tarball[0]}" -C "$work/itk-src" --strip-components=1
ITK_TAG_ITK_SOURCE_DIR="$work/itk-src" ITK_TAG_CACHE_DIR="$work/cache" \
  "$py" -m pip install -q --force-reinstall --no-deps "${sdist[0]}"
grep -q '"origin": "'"$work/itk-src"'"' "$work"/cache/installs/itk-*-old-*/itk-tag-source.json
smoke
