"""The installed binaries carry no path of the machine that built them (issue 11):
neither the source or build folder nor the private ITK's cache, and exception
texts name repo-relative sources (issue 9, item 5)."""

from __future__ import annotations

import sys
from pathlib import Path

import itk_tag
from conftest import run_python

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "superbuild"))
from itk_static import cache_root as superbuild_cache  # noqa: E402  (not a package)


def shipped_libraries() -> list[Path]:
    package = Path(itk_tag.__file__).resolve().parent
    return sorted(p for p in package.rglob("*.so*") if p.is_file())


def test_no_build_machine_path_in_the_plugins() -> None:
    # A byte search finds everything `strings` would print, and more.
    libraries = shipped_libraries()
    assert libraries
    needles = [str(REPO), str(superbuild_cache()), "/.cache/itk-tag", "/itk-tag/sources/", "/tmp/"]
    for library in libraries:
        data = library.read_bytes()
        found = [needle for needle in needles if needle.encode() in data]
        assert not found, f"{library} holds {found}"


def test_exception_text_names_the_repo_relative_source(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.tag"
    bad.write_bytes(b"x:4 y:4 z:9 type:BYTE\n\f")
    code = f"""
import itk_tag
import SimpleITK as sitk
try:
    sitk.ReadImage({str(bad)!r})
except RuntimeError as error:
    print(error)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "src/itkTagImageIO/itkTagHeader.cxx" in result.stdout, result.stdout
    assert str(REPO) not in result.stdout
