#!/usr/bin/env bash
# CI for the release wheel (issue 11): build and repair it (scripts/wheel.sh),
# require a manylinux tag from `auditwheel show`, install it into a fresh venv
# and run the host tests and the no-build-path test against that install.
#   bash scripts/wheel_check.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/itk-tag-wheel-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

wheel="$(bash "$root/scripts/wheel.sh" "$work/dist" | tail -n 1)"
tools="${ITK_TAG_WHEEL_TOOLS:-$root/build/wheel-tools}"
show="$("$tools/bin/auditwheel" show "$wheel")"
tag="$(grep -oE 'manylinux_[0-9]+_[0-9]+_x86_64' <<<"$show" | head -n 1)"
if [ -z "$tag" ] || [[ "$(basename "$wheel")" != *"$tag"* ]]; then
  echo "wheel_check: auditwheel grants no manylinux tag to $wheel:" >&2
  echo "$show" >&2
  exit 1
fi
echo "wheel_check: $(basename "$wheel") ($tag)"

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$wheel[test]"
# From the repository's tests, but importing itk_tag from the fresh install.
cd "$root"
installed="$("$work/venv/bin/python" -c 'import itk_tag; print(itk_tag.__file__)')"
case "$installed" in
  "$work"/venv/*) ;;
  *) echo "wheel_check: itk_tag comes from $installed, not the wheel" >&2; exit 1 ;;
esac
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider test/python/test_hosts.py test/python/test_binaries.py
