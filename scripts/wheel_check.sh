#!/usr/bin/env bash
# CI for the release wheels (issues 11, 16): build and repair them (scripts/wheel.sh),
# require a manylinux tag from `auditwheel show`, check that pip picks the
# manylinux wheel here and the pure one for other platforms, install the
# manylinux wheel into a fresh venv and run the host tests and the
# no-build-path test against that install.
#   bash scripts/wheel_check.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/itk-tag-wheel-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

wheel="$(bash "$root/scripts/wheel.sh" "$work/dist" | tail -n 1)"
pure=("$work"/dist/itk_tag-*-py3-none-any.whl)
tools="${ITK_TAG_WHEEL_TOOLS:-$root/build/wheel-tools}"
show="$("$tools/bin/auditwheel" show "$wheel")"
tag="$(grep -oE 'manylinux_[0-9]+_[0-9]+_x86_64' <<<"$show" | head -n 1)"
if [ -z "$tag" ] || [[ "$(basename "$wheel")" != *"$tag"* ]]; then
  echo "wheel_check: auditwheel grants no manylinux tag to $wheel:" >&2
  echo "$show" >&2
  exit 1
fi
echo "wheel_check: $(basename "$wheel") ($tag)"

# pip's choice between the two (issue 16): the manylinux wheel where it fits, else the pure one.
picks() {  # picks PIP_DOWNLOAD_ARGS...: the wheel file pip takes from the two
  rm -rf "$work/pick" && "$tools/bin/python" -m pip download -q --no-index --no-deps --find-links "$work/dist" \
    --only-binary :all: -d "$work/pick" "$@" itk-tag >&2 && basename "$work"/pick/itk_tag-*.whl
}
for platform in "" "--platform manylinux_2_17_x86_64" "--platform manylinux_2_34_aarch64" \
  "--platform win_amd64" "--platform macosx_11_0_arm64"; do
  expected="$(basename "${pure[0]}")"
  [ -z "$platform" ] && expected="$(basename "$wheel")"
  # shellcheck disable=SC2086  # word splitting wanted
  got="$(picks $platform --python-version 3.13)"
  [ "$got" = "$expected" ] || { echo "wheel_check: pip picks $got for '${platform:-this machine}', not $expected" >&2; exit 1; }
  echo "wheel_check: pip picks $got for ${platform:-this machine}"
done

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
