"""Shared fixtures: the real sample files, generated tag files, and a runner
for code that must run in a fresh Python process (import order matters to
SimpleITK, and a crash must fail a test, not the test run)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
REAL_TAGS = {
    "sandbox-test01.dcm.tag": "sandbox-test01.dcm",
    "barbell2-10.tag": "barbell2-10.dcm",
}


@dataclass
class TagSpec:
    """What a generated tag file holds; the test computes expectations from it."""

    name: str
    size: tuple[int, int, int]
    dtype: type = np.uint8
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dir_h: tuple[float, float, float] = (1.0, 0.0, 0.0)
    dir_v: tuple[float, float, float] = (0.0, 1.0, 0.0)
    extra: dict[str, str] = field(default_factory=dict)

    def voxels(self) -> np.ndarray:
        count = int(np.prod(self.size))
        if self.dtype == np.uint16:
            values = (np.arange(count, dtype=np.uint64) * 9973 + 1) % 65536
            values[-1] = 65535
        else:
            values = (np.arange(count, dtype=np.uint64) * 37 + 200) % 256
        return values.astype(self.dtype).reshape(self.size[::-1])

    def direction(self) -> np.ndarray:
        h = np.array(self.dir_h) / np.linalg.norm(self.dir_h)
        v = np.array(self.dir_v) / np.linalg.norm(self.dir_v)
        n = np.cross(h, v)
        return np.column_stack([h, v, n / np.linalg.norm(n)])

    def write(self, folder: Path) -> Path:
        lines = [
            f"x:{self.size[0]} y:{self.size[1]} z:{self.size[2]} "
            f"type:{'SHORT' if self.dtype == np.uint16 else 'BYTE'}",
            " ".join(f"org_{a}:{v:.4f}" for a, v in zip("xyz", self.origin)),
            f"inc_x:{self.spacing[0]:.4f} inc_y:{self.spacing[1]:.4f} epais:{self.spacing[2]:.4f}",
            " ".join(f"dir_h_{a}:{v:.4f}" for a, v in zip("xyz", self.dir_h)),
            " ".join(f"dir_v_{a}:{v:.4f}" for a, v in zip("xyz", self.dir_v)),
            " ".join(f"{k}:{v}" for k, v in self.extra.items()),
        ]
        path = folder / f"{self.name}.tag"
        path.write_bytes(
            ("\n".join(lines) + "\n\f").encode()
            + self.voxels().astype("<" + np.dtype(self.dtype).str[1:]).tobytes()
        )
        return path


GENERATED = [
    TagSpec("short", (7, 3, 2), np.uint16, spacing=(1.25, 1.25, 1.25)),
    TagSpec(
        "oblique",
        (6, 5, 3),
        origin=(-10.1234, 5.5, 100.0),
        spacing=(0.8, 0.9, 3.0),
        dir_h=(0.866, 0.5, 0.0),
        dir_v=(-0.3536, 0.6124, 0.7071),
        extra={"uid": "0BADF00D", "chksum": "12345678"},
    ),
    TagSpec("multi-slice", (5, 4, 6), origin=(10.0, 20.0, 30.0), spacing=(0.5, 0.5, 2.5)),
]


def raw_voxels(path: Path) -> np.ndarray:
    """The bytes after the first form feed, shaped by the size the test knows."""
    data = path.read_bytes()
    return np.frombuffer(data[data.index(b"\f") + 1 :], dtype=np.uint8)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[TagSpec, Path]]:
    folder = tmp_path_factory.mktemp("generated")
    return {spec.name: (spec, spec.write(folder)) for spec in GENERATED}


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout.strip().splitlines()[-1])


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 120) -> Completed:
    """Runs ``code`` in a fresh interpreter with a 4 GiB address-space cap."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
    result = subprocess.run(
        [sys.executable, "-c", limit + code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    return Completed(result.returncode, result.stdout, result.stderr)


# ---------------------------------------------------------------- installs of the wheel
#
# The startup hook only runs from a real install (a site folder holding the
# .pth file), so these tests install the wheel -- built once per session from
# this tree, reusing the build folder and the cached private ITK -- into fresh
# folders. Its dependencies (SimpleITK, itk, numpy, ...) are not installed
# again (hundreds of MB): a `zz-deps.pth` line appends this test venv's
# site-packages to the new site's sys.path. Plain path entries come after the
# site folder and their .pth files are not run, so the fresh install's
# itk_tag and startup hook are the ones in use (the children check it).

REPOSITORY = Path(__file__).resolve().parents[2]
SITE_PACKAGES = next(
    Path(p) for p in sys.path if p.endswith("site-packages") and Path(p, "SimpleITK").is_dir()
)


@dataclass
class Install:
    """A Python whose site folder ``site`` holds the wheel's files."""

    python: Path
    site: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Completed:
        """Runs ``python ARGS`` with this install's environment (no inherited PYTHONPATH or hook switch)."""
        full_env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "ITK_TAG_NO_AUTOLOAD", "ITK_AUTOLOAD_PATH")
        }
        full_env.update(self.env)
        full_env.update(env or {})
        result = subprocess.run(
            [str(self.python), *args], capture_output=True, text=True, env=full_env, timeout=timeout
        )
        return Completed(result.returncode, result.stdout, result.stderr)


SLICER_CORE_VERSIONS = ("5.12.4.0", "5.13.31053.0")
"""slicer-core 5.12.4.0: Slicer 5.12's core; 5.13.31053.0: Slicer's main branch (the only 5.13 on the
index). scripts/test.sh sets the same two up."""


def slicer_core_python(version: str) -> Path:
    """The Python of scripts/slicer_core.sh: slicer-core==``version`` beside this checkout's itk-tag."""
    done = subprocess.run(
        ["bash", str(REPOSITORY / "scripts" / "slicer_core.sh"), version],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=1800,
    )
    return Path(done.stdout.strip().splitlines()[-1])


def pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "-q", *args], capture_output=True, text=True)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stderr[-5000:]}"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The itk-tag wheel: $ITK_TAG_TEST_WHEEL, or built from this tree (pip wheel)."""
    given = os.environ.get("ITK_TAG_TEST_WHEEL")
    if given:
        return Path(given)
    folder = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--wheel-dir", str(folder), str(REPOSITORY))
    return next(folder.glob("itk_tag-*.whl"))


@pytest.fixture(scope="session")
def pure_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pure wheel (issue 16), built as the README says: ITK_TAG_PURE=1."""
    folder = tmp_path_factory.mktemp("pure-wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(REPOSITORY)],
        capture_output=True,
        text=True,
        env={**os.environ, "ITK_TAG_PURE": "1"},
    )
    assert done.returncode == 0, done.stderr[-5000:]
    (built,) = folder.glob("itk_tag-*-py3-none-any.whl")
    return built


def install_into(site_folder: Path, wheel: Path) -> None:
    """Installs the wheel's files into ``site_folder`` and makes the test venv's packages importable."""
    pip("install", "--no-deps", "--no-index", "--target", str(site_folder), str(wheel))
    (site_folder / "zz-deps.pth").write_text(f"{SITE_PACKAGES}\n")


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Install:
    """A new venv with the wheel installed in its site-packages."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site_folder = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    install_into(site_folder, wheel)
    return Install(root / "bin" / "python", site_folder)


@pytest.fixture(scope="session")
def broken_venv(tmp_path_factory: pytest.TempPathFactory, fresh_venv: Install) -> Install:
    """A copy of the fresh venv whose plugin builds were deleted."""
    root = tmp_path_factory.mktemp("broken") / "venv"
    shutil.copytree(fresh_venv.python.parents[1], root, symlinks=True)
    broken = Install(
        root / "bin" / "python", root / fresh_venv.site.relative_to(fresh_venv.python.parents[1])
    )
    # Whatever the plugin layout, the builds are where _native says.
    found = broken.run(
        "-c",
        "from itk_tag.hosts import native\nfor abi in native.ABIS: print(native.plugin_library(abi).parent)",
    )
    assert found.returncode == 0, found.stderr
    for folder in found.stdout.split():
        assert Path(folder).is_relative_to(broken.site), folder
        shutil.rmtree(folder)
    return broken
