"""C++ ITK host programs for the plugin-folder tests, built on demand.

Each host is ``test/hosts/itkTagHostProgram.cxx`` built against one ITK:

* ``debian``: Debian's shared ITK 5.2.1 (new libstdc++ ABI, namespace ``itk``);
* ``old-itk``, ``new-slicer_itk``, ``old-slicer_itk``: ITKs with dynamic
  factory loading, built from the same source as the wheel's private ITK by
  ``superbuild/itk_static.py --dynamic-loading`` (cached in ~/.cache/itk-tag),
  with the old ABI and/or 3D Slicer's namespace rename (``-Ditk=slicer_itk``).
  They are static; the program exports their symbols (``ENABLE_EXPORTS``), as
  a shared ITK such as Slicer's does, so the plugin can tell their namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "hosts"
DEBIAN_ITK_DIR = Path("/usr/lib/x86_64-linux-gnu/cmake/ITK-5.2")


@dataclass(frozen=True)
class Host:
    """A host program: its name, the ITK it links and the flags it needs to match it."""

    name: str
    abi: str
    namespace: str

    @property
    def cxx_flags(self) -> str:
        flags = f"-D_GLIBCXX_USE_CXX11_ABI={1 if self.abi == 'new' else 0}"
        return flags + (f" -Ditk={self.namespace}" if self.namespace != "itk" else "")


HOSTS = [
    Host("debian", "new", "itk"),
    Host("old-itk", "old", "itk"),
    Host("new-slicer_itk", "new", "slicer_itk"),
    Host("old-slicer_itk", "old", "slicer_itk"),
]


def _run(command: list[str], **kwargs: object) -> str:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def itk_dir(host: Host) -> Path:
    """The ITK_DIR of ``host``'s ITK (built and cached on first use)."""
    if host.name == "debian":
        found = sorted(Path("/usr/lib").glob("*/cmake/ITK-5.2")) or [DEBIAN_ITK_DIR]
        return found[0]
    script = ROOT / "superbuild" / "itk_static.py"
    output = _run(
        [sys.executable, str(script), "--abi", host.abi, "--namespace", host.namespace, "--dynamic-loading"],
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    return Path(output.strip().splitlines()[-1])


def host_program(host: Host) -> Path:
    """The path of ``host``'s program, built on first use."""
    build = BUILD / host.name
    program = build / "itkTagHostProgram"
    if not program.is_file():
        shutil.rmtree(build, ignore_errors=True)
        tools = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
        env = {**os.environ, "PATH": tools}
        _run(
            [
                "cmake", "-S", str(ROOT / "test" / "hosts"), "-B", str(build), "-G", "Ninja",
                "-DCMAKE_BUILD_TYPE=Release", f"-DITK_DIR={itk_dir(host)}",
                f"-DCMAKE_CXX_FLAGS={host.cxx_flags}",
            ],
            env=env,
        )  # fmt: skip
        _run(["cmake", "--build", str(build)], env=env)
    return program
