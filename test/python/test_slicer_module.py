"""The SliceOmaticTag Slicer module on Slicer's real code: PyPI slicer-core, Linux (issue 22).

Each slicer-core version gets a venv beside itk-tag (scripts/slicer_core.sh); the
module's reader and writer run there in a child process (slicer_module_driver.py),
called as qSlicerScriptedFileReader/Writer call them, on the generated cases, the
real samples with and without their CT loaded through Slicer's archetype storage
node, the malformed table and the write round trip (slicer_module_cases.py).
What no test here runs: Slicer's Qt shell (module discovery, Add Data, drag and drop).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import slicer_module_cases as cases
from conftest import SLICER_CORE_VERSIONS, slicer_core_python

DRIVER = Path(__file__).with_name("slicer_module_driver.py")


@pytest.fixture(scope="module", params=SLICER_CORE_VERSIONS)
def slicer_python(request: pytest.FixtureRequest) -> Path:
    return slicer_core_python(request.param)


def module_path(python: Path) -> Path:
    """``itk-tag slicer module-path`` of the itk-tag installed beside slicer-core."""
    done = subprocess.run(
        [str(python), "-m", "itk_tag", "slicer", "module-path"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def run_driver(python: Path, module_folder: Path, plan: dict, tmp_path: Path) -> dict:
    plan_file, results_file = tmp_path / "plan.json", tmp_path / "results.json"
    plan_file.write_text(json.dumps(plan))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ITK_"))}
    done = subprocess.run(
        [str(python), str(DRIVER), str(module_folder), str(plan_file), str(results_file)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode >= 0, f"Slicer's Python died of signal {signal.Signals(-done.returncode).name}"
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(results_file.read_text())


def test_module_reads_and_writes_every_case(slicer_python: Path, tmp_path: Path) -> None:
    folder = module_path(slicer_python)
    assert (folder / "SliceOmaticTag.py").is_file() and folder.parent.name == "itk_tag"
    files = cases.write_inputs(tmp_path / "in", skip_unreadable=os.geteuid() == 0)
    plan = cases.plan(files, tmp_path / "out")
    results = run_driver(slicer_python, folder, plan, tmp_path)
    assert Path(results["format_file"]) == folder.parent / "format" / "__init__.py"
    assert [case["name"] for case in results["cases"]] == [case["name"] for case in plan["cases"]]
    assert cases.check(results, files) == []
