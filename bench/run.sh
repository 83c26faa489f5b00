#!/usr/bin/env bash
# The read benchmark (see bench/README.md): builds the C++ reader program
# against the system ITK, then runs bench/run.py with the repository's .venv.
# Installs itk-tag first (scripts/setup.sh) when .venv has no itk-tag yet.
# Arguments go to run.py (--help lists them); the table is also written to
# bench/out/results.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${ITK_TAG_VENV:-$root/.venv}"
cxx_packages=(g++ cmake ninja-build libinsighttoolkit5-dev)

if [ ! -x "$venv/bin/itk-tag" ]; then
  ITK_TAG_APT_PACKAGES="${cxx_packages[*]}" source "$root/scripts/setup.sh"
else
  source "$root/scripts/apt.sh"
  itk_tag_apt_install "${cxx_packages[@]}"
fi

# The C++ rows need a program built against the system ITK; without it the
# Python rows still run.
mkdir -p "$root/bench/out"
build="$root/bench/out/build"
cxx_option=()
echo "== building bench/tag_read_bench.cxx against the system ITK" >&2
if ! { cmake -S "$root/bench" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$root/bench/out/cmake.log" 2>&1 &&
  cmake --build "$build" --target tag_read_bench >>"$root/bench/out/cmake.log" 2>&1; }; then
  echo "warning: the C++ program did not build (see bench/out/cmake.log); C++ rows skipped" >&2
  cxx_option=(--no-cxx)
fi

exec "$venv/bin/python" "$root/bench/run.py" --markdown "$root/bench/out/results.md" "${cxx_option[@]}" "$@"
