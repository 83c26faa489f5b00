"""A Windows CPython under wine, for test_wine.py ("Windows (wine)").

scripts/wine.sh installs wine and builds, in a cache, a Windows CPython 3.13 whose
site-packages holds pinned Windows wheels (numpy, SimpleITK, itk, itk-tag's dependencies).
That tree is never changed here: each test gets its own small Python beside it (the
executable and its DLLs, copied) whose ``python313._pth`` lists the cached standard library
and site-packages, adds its own ``Lib/site-packages`` for itk-tag's wheel, and enables
``import site``, so that site-packages' ``.pth`` files -- itk-tag's startup hook -- run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISABLE_VARIABLE = "ITK_TAG_WINE"
"""``ITK_TAG_WINE=0`` skips the Windows (wine) tests; nothing else does."""


def windows_path(path: Path) -> str:
    """``path`` as the Windows program sees it: wine maps the Linux root to drive Z:."""
    return "Z:" + str(path.resolve()).replace("/", "\\")


def set_up() -> Path:
    """Run scripts/wine.sh (installs on first use; a warm run only checks); the cached python.exe."""
    script = ROOT / "scripts" / "wine.sh"
    done = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=True, timeout=900)
    return Path(done.stdout.strip().splitlines()[-1])


def set_up_slicer() -> Path:
    """Run ``scripts/wine.sh slicer``: the folder of slicer-core's and vtk's Windows wheels, unzipped."""
    script = ROOT / "scripts" / "wine.sh"
    done = subprocess.run(
        ["bash", str(script), "slicer"], stdout=subprocess.PIPE, text=True, check=True, timeout=1800
    )
    return Path(done.stdout.strip().splitlines()[-1])


def environment() -> dict[str, str]:
    """The environment of every wine call: scripts/wine.sh's prefix, quiet, headless."""
    cached = Path(os.environ.get("ITK_TAG_CACHE_DIR", Path.home() / ".cache" / "itk-tag"))
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DISPLAY" and not key.startswith(("PYTHON", "ITK_", "VIRTUAL_ENV"))
    }
    env.update(
        WINEPREFIX=str(Path(os.environ.get("ITK_TAG_WINE_DIR", cached / "wine")) / "prefix"),
        WINEDEBUG="-all",
        WINEDLLOVERRIDES="mscoree,mshtml=",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


class WindowsPython:
    """A Windows CPython for one test: the cached tree plus a private site-packages."""

    def __init__(self, cached_exe: Path, folder: Path, extra: Sequence[Path] = ()) -> None:
        """``extra``: folders put on sys.path after site-packages (``scripts/wine.sh slicer``'s)."""
        base = cached_exe.parent
        folder.mkdir(parents=True)
        for dll in ["python.exe", "python3.dll", "python313.dll", "vcruntime140.dll", "vcruntime140_1.dll"]:
            shutil.copyfile(base / dll, folder / dll)
        self.site_packages = folder / "Lib" / "site-packages"
        self.site_packages.mkdir(parents=True)
        # The embeddable distribution's way to set sys.path: one entry a line, then `import site`,
        # which processes the .pth files of this Python's own Lib/site-packages.
        (folder / "python313._pth").write_text(
            "\n".join(
                [
                    windows_path(base / "python313.zip"),
                    windows_path(base / "DLLs"),
                    windows_path(base / "Lib"),
                    windows_path(base / "Lib" / "site-packages"),
                    *(windows_path(path) for path in extra),
                    "import site",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        self.exe = folder / "python.exe"

    def install(self, wheel: Path) -> None:
        """Unzip ``wheel`` into site-packages: what pip does for a pure wheel (pip crashes under wine)."""
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(self.site_packages)

    def start(self, *args: str, cwd: Path) -> subprocess.Popen[bytes]:
        """Start ``python.exe ARGS`` under wine. Output goes to pipes: a Windows Python whose
        stdout is a regular file dies at start under wine 8.
        """
        return subprocess.Popen(
            ["wine", str(self.exe), *args],
            cwd=cwd,
            env=environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
