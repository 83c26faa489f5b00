#!/usr/bin/env bash
# Cold and warm `pip install` time of a commit, measured the same way each time
# (issue 11): a fresh clone of COMMIT, a fresh venv, an empty private-ITK cache.
#
#   bash bench/build_time.sh [COMMIT] [OUT_DIR]     # default: HEAD, bench/out/build-time
#
# cold: `pip install CLONE` with ITK_TAG_CACHE_DIR empty (the private ITKs are
#       compiled; the apt download of the ITK source included);
# warm: the same command again after `pip uninstall` (ITKs cached, plugins rebuilt).
# Each line of OUT_DIR/times.txt gives wall, user and sys seconds and the load
# average before and after: the machine may be shared, so read times with the load.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit="$(git -C "$root" rev-parse "${1:-HEAD}")"
out="$(mkdir -p "${2:-$root/bench/out/build-time}" && cd "${2:-$root/bench/out/build-time}" && pwd)"
work="$out/$commit"
rm -rf "$work"
mkdir -p "$work"
git clone -q "$root" "$work/clone"
git -C "$work/clone" checkout -q "$commit"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
export ITK_TAG_CACHE_DIR="$work/cache"

measure() {
  local label="$1"
  shift
  local before
  before="$(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -f "%e %U %S" -o "$work/time.txt" "$@" >"$work/$label.log" 2>&1
  printf '%s %s wall/user/sys_s=%s load_before=%s load_after=%s\n' "${commit:0:8}" "$label" \
    "$(tr ' ' / <"$work/time.txt")" "$before" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/times.txt"
}

measure cold "$work/venv/bin/python" -m pip install -q "$work/clone"
"$work/venv/bin/python" -m pip uninstall -q -y itk-tag
rm -rf "$work/clone/build"
measure warm "$work/venv/bin/python" -m pip install -q "$work/clone"
