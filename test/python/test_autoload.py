"""The startup hook (itk-tag-autoload.pth): ``import SimpleITK`` reads .tag files with no
``import itk_tag``, in a fresh venv and in a user site; off with ITK_TAG_NO_AUTOLOAD=1;
a broken install never stops the interpreter. Every check runs in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, Install, install_into
from itk_tag.hosts import sample

# No itk_tag import: the hook must do it. Reports where the hook and itk_tag came from.
READ_SAMPLE = """
import json, sys
import SimpleITK as sitk
hook = sys.modules["_itk_tag_autoload"]
result = {"hook": hook.status, "hook_file": hook.__file__}
try:
    image = sitk.ReadImage(sys.argv[1])
    view = sitk.GetArrayViewFromImage(image)
    import hashlib
    result["facts"] = {
        "size": list(image.GetSize()), "origin": list(image.GetOrigin()), "spacing": list(image.GetSpacing()),
        "direction": list(image.GetDirection()), "dtype": str(view.dtype),
        "sha256": hashlib.sha256(view.tobytes()).hexdigest(),
    }
    result["uid"] = image.GetMetaData("uid") if image.HasMetaDataKey("uid") else None
except RuntimeError as error:
    result["error"] = str(error)
result["itk_tag"] = getattr(sys.modules.get("itk_tag"), "__file__", None)
print(json.dumps(result))
"""


def read_sample(install: Install, path: Path, env: dict[str, str] | None = None) -> dict:
    result = install.run("-c", READ_SAMPLE, str(path), env=env)
    assert result.returncode == 0, result.stderr
    return result.json()


@pytest.fixture(scope="module")
def user_site(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Install:
    """The base interpreter (not a venv) with the wheel in a user site (PYTHONUSERBASE)."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    user_base = tmp_path_factory.mktemp("userbase")
    env = {"PYTHONUSERBASE": str(user_base), "PYTHONNOUSERSITE": ""}
    found = subprocess.run(
        [str(base), "-c", "import site; print(site.getusersitepackages(), site.ENABLE_USER_SITE)"],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PATH": "/usr/bin:/bin"},
    ).stdout.split()
    if found[1] != "True":
        pytest.skip(f"{base} has user sites turned off")
    site_folder = Path(found[0])
    install_into(site_folder, wheel)
    return Install(base, site_folder, env)


@pytest.mark.parametrize("where", ["fresh_venv", "user_site"])
def test_simpleitk_reads_tag_without_importing_itk_tag(request: pytest.FixtureRequest, where: str) -> None:
    install: Install = request.getfixturevalue(where)
    for path in (sample.PATH, DATA / "barbell2-10.tag"):
        result = read_sample(install, path)
        assert result["hook"] == "armed"
        assert Path(result["hook_file"]).parent == install.site
        assert Path(result["itk_tag"]).is_relative_to(install.site), result["itk_tag"]
        assert "error" not in result, result["error"]
        if path == sample.PATH:
            assert sample.differences(result["facts"]) == []
            assert result["uid"] == "17A60C70"
        else:
            assert result["facts"]["size"] == [512, 512, 1]
            assert result["facts"]["origin"] == [-207.0, -58.0, 293.1]


def test_no_autoload_turns_the_hook_off_and_nothing_crashes(fresh_venv: Install) -> None:
    result = read_sample(fresh_venv, sample.PATH, env={"ITK_TAG_NO_AUTOLOAD": "1"})
    assert result["hook"] == "off: ITK_TAG_NO_AUTOLOAD=1 is set"
    assert "Unable to determine ImageIO reader" in result["error"]
    assert result["itk_tag"] is None


def test_import_itk_tag_after_simpleitk_gives_it_the_python_path_when_the_hook_is_off(
    fresh_venv: Install,
) -> None:
    code = f"""
import warnings
import SimpleITK
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import itk_tag
print([str(w.message) for w in caught])
wrapped = getattr(SimpleITK.ReadImage, "__itk_tag_dispatch__", False)
print(wrapped, SimpleITK.ReadImage({str(sample.PATH)!r}).GetSize())
"""
    result = fresh_venv.run("-c", code, env={"ITK_TAG_NO_AUTOLOAD": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "True (16, 12, 3)"]


def test_the_hook_imports_nothing_at_start(fresh_venv: Install) -> None:
    result = fresh_venv.run(
        "-X", "importtime", "-c", "import json, sys; print(json.dumps(sorted(sys.modules)))"
    )
    assert result.returncode == 0, result.stderr
    # "import time: self [us] | cumulative | name": equal times mean no import nested in the hook's.
    line = next(
        line for line in result.stderr.splitlines() if line.split("|")[-1].strip() == "_itk_tag_autoload"
    )
    own, cumulative = (int(field) for field in line.split(":", 1)[1].split("|")[:2])
    assert own == cumulative, line
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert not loaded & {"itk_tag", "SimpleITK", "itk", "numpy", "ctypes"}


def test_a_broken_install_still_starts_python_and_simpleitk(broken_venv: Install) -> None:
    started = broken_venv.run("-c", "print('started')")
    assert (started.returncode, started.stdout, started.stderr) == (0, "started\n", "")
    result = broken_venv.run("-c", READ_SAMPLE, str(sample.PATH))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # quiet: the doctor says why
    answer = result.json()
    assert answer["hook"] == "armed"
    # Without its builds, the install still reads .tag: through the Python-level path.
    assert "error" not in answer, answer["error"]
    assert sample.differences(answer["facts"]) == []


def test_an_itk_tag_that_fails_to_import_does_not_stop_simpleitk(tmp_path: Path, fresh_venv: Install) -> None:
    broken = Install(fresh_venv.python, fresh_venv.site, {"PYTHONPATH": str(tmp_path)})
    # An itk_tag package earlier on sys.path that raises on import.
    (tmp_path / "itk_tag").mkdir()
    (tmp_path / "itk_tag" / "__init__.py").write_text("raise ImportError('broken on purpose')\n")
    code = "import sys, SimpleITK; print(sys.modules['_itk_tag_autoload'].status)"
    result = broken.run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "failed: import itk_tag raised ImportError: broken on purpose"
