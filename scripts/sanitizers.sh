#!/usr/bin/env bash
# The C++ test suite (ctest) under AddressSanitizer + UndefinedBehaviorSanitizer
# (with LeakSanitizer), built with gcc against the system ITK (itself not
# instrumented). Fails on any failing test and on any sanitizer report, also
# one printed by a test that was expected to fail.
#
#   scripts/sanitizers.sh            # build in build/sanitizers, run ctest
#
# The build folder can be changed with ITK_TAG_SANITIZERS_BUILD.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ITK_TAG_SANITIZERS_BUILD:-$root/build/sanitizers}"
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build"

# A distinct exit code, so a sanitizer report is never mistaken for the
# exit code 1 of a reader refusing a broken file.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=86}"
status=0
ctest --test-dir "$build" --output-on-failure || status=$?

log="$build/Testing/Temporary/LastTest.log"
if grep -nE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer" "$log"; then
  echo "sanitizers: a report was printed (see $log)" >&2
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "sanitizers: the C++ suite passed under ASan+UBSan (LeakSanitizer on), no report"
fi
exit "$status"
