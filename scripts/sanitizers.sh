#!/usr/bin/env bash
# The test suites under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   scripts/sanitizers.sh            # C++: ctest, built with gcc against the
#                                    # system ITK (itself not instrumented),
#                                    # LeakSanitizer on
#   scripts/sanitizers.sh --python   # also Python: test_malformed.py with
#                                    # ASan+UBSan-instrumented plugins
#
# Fails on any failing test and on any sanitizer report, also one printed by
# a test that was expected to fail.
#
# --python needs the installed package (.venv, or $ITK_TAG_VENV) and the
# private static ITKs of the wheel build (cached in ~/.cache/itk-tag by
# `pip install .`). It builds both plugins (new and old libstdc++ ABI) with
# the sanitizers, puts them into a copy of the installed itk_tag package
# first on PYTHONPATH, and runs pytest with libasan preloaded. Only
# test_malformed.py runs there: it knows that ASan needs its address space
# unlimited (the other suites' children set RLIMIT_AS, under which ASan
# cannot start), and LeakSanitizer is off (CPython does not free everything at
# exit by design).
#
# Build folders: $ITK_TAG_SANITIZERS_BUILD (default build/sanitizers).
set -euo pipefail

python_suite=0
case "${1:-}" in
  "") ;;
  --python) python_suite=1 ;;
  *) echo "usage: $0 [--python]" >&2; exit 2 ;;
esac

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
[ "$python_suite" -eq 1 ] || exit "$status"

venv="${ITK_TAG_VENV:-$root/.venv}"
python="$venv/bin/python"
installed="$("$python" -c 'import itk_tag, os; print(os.path.dirname(itk_tag.__file__))')"
overlay="$build/python-overlay"
rm -rf "$overlay"
mkdir -p "$overlay"
cp -r "$installed" "$overlay/itk_tag"
for abi in new old; do
  [ "$abi" = new ] && abi_define=1 || abi_define=0
  itk_dir="$("$python" "$root/superbuild/itk_static.py" --abi "$abi" --namespace itk | tail -n 1)"
  plugin_build="$build/plugin-$abi"
  # The wheel's build of the plugin (python/CMakeLists.txt), plus the sanitizers.
  cmake -S "$root" -B "$plugin_build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
    -DITK_DIR="$itk_dir" -DITK_TAG_BUILD_AS_ITK_MODULE=OFF -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF \
    -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi_define $flags" \
    -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_CXX_VISIBILITY_PRESET=hidden -DCMAKE_VISIBILITY_INLINES_HIDDEN=ON \
    -DITK_TAG_SELF_CONTAINED_PLUGIN=ON >/dev/null
  cmake --build "$plugin_build" --target IOTagImageIO
  cp "$plugin_build/plugins/libIOTagImageIO.so" "$overlay/itk_tag/plugins/itk-tag-builds/$abi-itk/libIOTagImageIO.so"
done

# The instrumented plugins, not the installed ones, must be the ones loaded.
loaded="$(PYTHONPATH="$overlay" "$python" -c 'from itk_tag.hosts import native; print(native.plugin_library("old"))')"
case "$loaded" in
  "$overlay"/*) ;;
  *) echo "sanitizers: the overlay is not used (plugin from $loaded)" >&2; exit 1 ;;
esac

python_log="$build/python-asan.log"
python_status=0
(
  cd "$root"
  # libstdc++ is preloaded with libasan: ASan finds the C++ runtime functions
  # it intercepts (__cxa_throw) only in libraries loaded before it starts, and
  # Python itself is not linked to libstdc++.
  LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)" \
  ASAN_OPTIONS="detect_leaks=0:exitcode=86:max_allocation_size_mb=1024:allocator_may_return_null=0" \
  PYTHONPATH="$overlay${PYTHONPATH:+:$PYTHONPATH}" \
  PYTHONMALLOC=malloc \
    "$python" -m pytest -q -p no:cacheprovider test/python/test_malformed.py
) 2>&1 | tee "$python_log" || python_status=$?
# The children's reports reach pytest's output only when a test fails; any
# report at all fails the run.
if grep -nE "ERROR: AddressSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer" "$python_log"; then
  python_status=1
fi
if [ "$python_status" -eq 0 ]; then
  echo "sanitizers: test_malformed.py passed with ASan+UBSan-instrumented plugins, no report"
else
  status=1
fi
exit "$status"
