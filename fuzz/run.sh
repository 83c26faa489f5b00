#!/usr/bin/env bash
# Fuzzes the .tag reader for SECONDS seconds; exits non-zero on any finding
# (crash, sanitizer report, leak, timeout, out-of-memory, broken promise).
#
#   fuzz/run.sh SECONDS [libFuzzer options...]   e.g. fuzz/run.sh 60
#                                                     fuzz/run.sh 900 -fork=2
#
# Builds the harness if needed (clang, against the system ITK) into
# $ITK_TAG_FUZZ_BUILD (default build/fuzz). The corpus grows in
# fuzz/corpus-run/ (not committed) from the seeds of fuzz/make_corpus.py and
# the earlier findings in fuzz/regressions/. A finding is saved as
# $ITK_TAG_FUZZ_BUILD/artifacts/<kind>-<sha1>; see fuzz/README.md.
set -euo pipefail

if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 SECONDS [libFuzzer options...]" >&2
  exit 2
fi
seconds="$1"
shift

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ITK_TAG_FUZZ_BUILD:-$root/build/fuzz}"
python="${PYTHON:-python3}"

if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DITK_TAG_BUILD_FUZZER=ON -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$build" --target itkTagFuzzer
fuzzer="$build/fuzz/itkTagFuzzer"

seeds="$build/seeds"
rm -rf "$seeds"
"$python" "$root/fuzz/make_corpus.py" "$seeds" >/dev/null
corpus="$root/fuzz/corpus-run"
artifacts="$build/artifacts"
mkdir -p "$corpus" "$artifacts"
log="$build/last-run.log"
inputs=("$corpus" "$seeds")
# Earlier findings, kept as regression inputs.
if compgen -G "$root/fuzz/regressions/*" >/dev/null; then
  inputs+=("$root/fuzz/regressions")
fi

# Inputs up to 80 000 bytes reach the 64 KiB header limit. A single
# allocation above 512 MiB from such an input is itself a finding, as are
# 10 s on one input and leaks. UBSan stops at its first report (the harness
# is built with -fno-sanitize-recover).
status=0
started=$SECONDS
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  "$fuzzer" \
  -max_total_time="$seconds" \
  -max_len=80000 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -malloc_limit_mb=512 \
  -dict="$root/fuzz/tag.dict" \
  -artifact_prefix="$artifacts/" \
  -print_final_stats=1 \
  "$@" \
  "${inputs[@]}" 2>&1 | tee "$log" || status=$?
elapsed=$((SECONDS - started))

# A report that did not stop the run (there should be none) still fails it.
if [ "$status" -eq 0 ] &&
  grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|itk-tag fuzz finding" "$log"; then
  status=1
fi

# The totals: with -fork=N, the main process's last status line
# ("#<executions>: cov: ... corp: <units> ..."); else the final statistics
# and the last status line ("#<n> ... corp: <units>/<size> ...").
if grep -qE '^#[0-9]+: cov:' "$log"; then
  status_line="$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1)"
  executions="$(grep -oE '^#[0-9]+' <<<"$status_line" | tr -d '#')"
else
  status_line="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  executions="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1 || true)"
fi
in_memory="$(grep -oE 'corp: [0-9]+(/[0-9]+[a-zA-Z]*)?' <<<"$status_line" | cut -d' ' -f2 || true)"
echo
echo "itk-tag fuzz: ${elapsed} s (of ${seconds} s asked), ${executions} executions," \
  "corpus ${in_memory:-?} (libFuzzer's units[/size]; $(find "$corpus" -type f | wc -l) files in fuzz/corpus-run)," \
  "exit status ${status}; log: $log"
if [ "$status" -ne 0 ]; then
  echo "itk-tag fuzz: FINDING; the input is in $artifacts/ (reproduce: $fuzzer <file>)" >&2
fi
exit "$status"
