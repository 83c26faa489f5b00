"""The pure package (issue 16): what a source install does where the native part is not built.

* Linux x86_64 (glibc), where native builds are supported: a failed native build is an error
  whose message names ITK_TAG_PURE=1, and nothing is installed;
* ITK_TAG_PURE=1 (and, by pyproject.toml's override, every other platform: not run here):
  the pure package, a ``py3-none-any`` wheel with the startup hook and the sample, no plugin
  and no ITK Python shim, which reads .tag through the Python path.
Which wheel pip picks when both exist is checked by scripts/wheel_check.sh (it builds both).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import DATA, REPOSITORY, SITE_PACKAGES, Install


def pip_install(target: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pip install --no-deps --target TARGET <this tree>``: a source install, as from the sdist."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(REPOSITORY)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=900,
    )


def test_pure_wheel_contents(pure_wheel: Path) -> None:
    assert pure_wheel.name.endswith("-py3-none-any.whl")
    names = zipfile.ZipFile(pure_wheel).namelist()
    assert {"itk-tag-autoload.pth", "_itk_tag_autoload.py", "itk_tag/data/sample.tag"} <= set(names)
    assert not [n for n in names if n.endswith((".so", ".dll", ".dylib")) or "itk_shim" in n]
    assert not [n for n in names if n.startswith("itk/")]


@pytest.fixture
def no_native_build(tmp_path: Path) -> dict[str, str]:
    """An environment where the native build fails at once: no cached ITK, no ITK source."""
    return {
        "ITK_TAG_CACHE_DIR": str(tmp_path / "empty cache"),
        "ITK_TAG_ITK_SOURCE_DIR": str(tmp_path / "no such ITK source"),
        "PIP_CONFIG_SETTINGS": f"build-dir={tmp_path / 'build'}",  # not the tree's build folder
    }


def test_failed_native_build_names_the_switch_and_installs_nothing(
    tmp_path: Path, no_native_build: dict[str, str]
) -> None:
    target = tmp_path / "site"
    failed = pip_install(target, no_native_build)
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert "ITK_TAG_ITK_SOURCE_DIR" in output  # the superbuild says why
    assert "ITK_TAG_PURE=1 pip install itk-tag" in output, output[-3000:]
    assert not target.exists() or not any(target.iterdir())  # nothing half-installed


def test_itk_tag_pure_installs_the_pure_package_that_reads(
    tmp_path: Path, no_native_build: dict[str, str]
) -> None:
    root = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    done = pip_install(site, {**no_native_build, "ITK_TAG_PURE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    (site / "zz-deps.pth").write_text(f"{SITE_PACKAGES}\n")  # SimpleITK, numpy... of this venv
    assert (site / "itk-tag-autoload.pth").is_file()
    assert not list((site / "itk_tag").rglob("*.so")) and not (site / "itk").exists()
    install = Install(root / "bin" / "python", site)
    tag = DATA / "sandbox-test01.dcm.tag"
    # No import itk_tag: the startup hook, then the Python path (this install has no native build).
    read = install.run(
        "-c",
        "import SimpleITK as sitk, hashlib\n"
        f"image = sitk.ReadImage({str(tag)!r})\n"
        "import itk_tag\n"
        "print(itk_tag.__file__, image.GetSize(), image.GetOrigin(),"
        " hashlib.sha256(sitk.GetArrayViewFromImage(image)).hexdigest())",
    )
    assert read.returncode == 0, read.stderr
    import hashlib

    import SimpleITK as sitk  # noqa: N813

    image = sitk.ReadImage(str(tag))  # this venv's install (native where it serves)
    file, rest = read.stdout.split(" ", 1)
    assert Path(file).is_relative_to(site)
    expected = f"{image.GetSize()} {image.GetOrigin()} "
    expected += hashlib.sha256(sitk.GetArrayViewFromImage(image)).hexdigest()
    assert rest.strip() == expected
    # No plugin here: plugin-path says so in one line, no traceback (issue 23).
    plugin = install.run("-m", "itk_tag", "plugin-path")
    assert plugin.returncode == 1 and not plugin.stdout, plugin.stdout + plugin.stderr
    assert plugin.stderr.count("\n") == 1 and "no native ITK plugin" in plugin.stderr
