"""What itk-tag's startup hook (``itk-tag-autoload.pth``) costs every Python start.

The fair baseline is the same interpreter starting from the same site folder
without the hook's ``.pth`` file: not ``python -S`` (which skips all of
``site``) and not ``ITK_TAG_NO_AUTOLOAD=1`` (which still imports the hook
module, to read the variable). So two venvs are made from the interpreter
running this script, whose site-packages are symlink farms of the installed
environment's site-packages -- the same entries, so the same directory
listing for the import system -- one with the hook's ``.pth``, one without.
``python -c pass`` then runs in both, alternately, round after round; the cost
is the median of the per-round differences. ``ITK_TAG_NO_AUTOLOAD=1`` (the
opt-out) is measured the same way, and ``-X importtime`` gives the hook
module's own import time, inside the process.

Run by ``run.py`` (section 5) or alone: ``.venv/bin/python bench/startup.py [--rounds 300]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HOOK_FILE = "itk-tag-autoload.pth"
HOOK_MODULE = "_itk_tag_autoload"


def make_venv(root: Path, site_packages: Path, with_hook: bool) -> Path:
    """A venv of this interpreter whose site-packages links every entry of ``site_packages``."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    target = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    for entry in site_packages.iterdir():
        if entry.name == HOOK_FILE and not with_hook:
            continue
        link = target / entry.name
        if not link.exists():
            link.symlink_to(entry)
    return root / "bin" / "python"


def start_time(python: Path, env: dict[str, str]) -> float:
    """Wall time of ``python -c pass``, in seconds."""
    start = time.perf_counter()
    subprocess.run([str(python), "-c", "pass"], check=True, env=env)
    return time.perf_counter() - start


def hook_import_time(python: Path, env: dict[str, str]) -> float:
    """The hook module's import time inside the process (``-X importtime``, cumulative), in seconds."""
    done = subprocess.run(
        [str(python), "-X", "importtime", "-c", "pass"], check=True, capture_output=True, text=True, env=env
    )
    for line in done.stderr.splitlines():
        if line.rstrip().endswith(HOOK_MODULE):
            return int(line.split("|")[1]) / 1e6
    raise RuntimeError(f"{HOOK_MODULE} was not imported at start:\n{done.stderr[-2000:]}")


def measure(rounds: int) -> dict[str, object]:
    """Runs the rounds; returns times in ms (medians, per-round differences) and the setup."""
    site_packages = Path(sysconfig.get_path("purelib"))
    if not (site_packages / HOOK_FILE).is_file():
        raise RuntimeError(f"{site_packages} has no {HOOK_FILE}: install itk-tag first")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ITK_TAG_NO_AUTOLOAD")}
    off_env = {**env, "ITK_TAG_NO_AUTOLOAD": "1"}
    folder = Path(tempfile.mkdtemp(prefix="startup-"))
    try:
        with_hook = make_venv(folder / "with-hook", site_packages, True)
        without = make_venv(folder / "without-hook", site_packages, False)
        for python in (with_hook, without):  # warm-up: .pyc files and the page cache
            for _ in range(5):
                start_time(python, env)
        times: dict[str, list[float]] = {"hook": [], "baseline": [], "off": []}
        for index in range(rounds):
            runs = [("hook", with_hook, env), ("baseline", without, env), ("off", with_hook, off_env)]
            # Rotate the order: none of them always runs right after another.
            for name, python, variables in runs[index % 3 :] + runs[: index % 3]:
                times[name].append(start_time(python, variables))
        imports = [hook_import_time(with_hook, env) for _ in range(min(rounds, 50))]
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    return {
        "rounds": rounds,
        "site_entries": len(list(site_packages.iterdir())),
        "baseline_ms": ms(times["baseline"]),
        "hook_ms": ms(times["hook"]),
        "off_ms": ms(times["off"]),
        "hook_extra_ms": ms([a - b for a, b in zip(times["hook"], times["baseline"])]),
        "off_extra_ms": ms([a - b for a, b in zip(times["off"], times["baseline"])]),
        "import_ms": ms(imports),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300, help="interleaved rounds (default 300)")
    print(json.dumps(measure(parser.parse_args().rounds)))


if __name__ == "__main__":
    main()
