"""``itk-tag doctor`` in a healthy install, with the hook off, in a broken install, and with a
host that crashes: its exit code and the lines it prints. Runs in fresh installs of the wheel."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import Install
from itk_tag.hosts import native as _native


def doctor(install: Install, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    result = install.run("-m", "itk_tag", "doctor", *args, env=env)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, result.stdout.splitlines()


def test_healthy(fresh_venv: Install) -> None:
    code, lines = doctor(fresh_venv)
    assert code == 0, "\n".join(lines)
    assert f"installed in       {fresh_venv.site} (venv)" in lines
    assert "startup hook       armed" in lines
    assert "ITK_AUTOLOAD_PATH  (not set)" in lines
    hosts = [line for line in lines if line.startswith("  ") and "the sample" in line]
    assert [line.split(";")[0] for line in hosts] == [
        "  SimpleITK          reads the sample (import SimpleITK)",
        "  itk (ITK Python)   reads the sample (import itk)",
        "  itk_tag.read_array reads the sample (import itk_tag)",
    ]
    assert "ITK 5.4." in hosts[0] and "libstdc++ ABI old" in hosts[0]
    assert "ITK 5.4." in hosts[1] and "libstdc++ ABI new" in hosts[1]
    paths = [line for line in lines if line.startswith("    path: ")]
    native = "    path: a native build (the C++ TagImageIO); native build"
    assert paths[0].startswith(f"{native} old-itk (ITK 5.4.")
    assert paths[1].startswith(f"{native} new-itk (ITK 5.4.")
    assert paths[2] == "    path: the Python path (itk-tag's pure-Python format layer)"
    assert not [line for line in lines if line.startswith(("problem:", "note:"))]
    assert lines[-1] == "ok: every host reads .tag files"


def test_native_off_every_host_takes_the_python_path(fresh_venv: Install) -> None:
    code, lines = doctor(fresh_venv, env={"ITK_TAG_NATIVE": "0"})
    assert code == 0, "\n".join(lines)
    paths = [line for line in lines if line.startswith("    path: ")]
    python = "    path: the Python path (itk-tag's pure-Python format layer)"
    assert paths == [f"{python}; ITK_TAG_NATIVE=0 is set"] * 2 + [python]


def test_healthy_json(fresh_venv: Install) -> None:
    result = fresh_venv.run("-m", "itk_tag", "doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert [(h["name"], h["reads"]) for h in report["hosts"]] == [
        ("SimpleITK", True),
        ("itk (ITK Python)", True),
        ("itk_tag.read_array", True),
    ]
    assert set(report["builds"]) == {f"{a}-{n}" for a in _native.ABIS for n in _native.NAMESPACES}
    assert report["startup_hook"] == "armed"


def test_hook_off_is_a_note_and_simpleitk_reads_after_import_itk_tag(fresh_venv: Install) -> None:
    code, lines = doctor(fresh_venv, env={"ITK_TAG_NO_AUTOLOAD": "1"})
    assert code == 0, "\n".join(lines)
    assert "startup hook       off: ITK_TAG_NO_AUTOLOAD=1 is set" in lines
    assert any(
        line.startswith("  SimpleITK          reads the sample (import itk_tag, then SimpleITK)")
        for line in lines
    )
    assert any(
        line.startswith("note: the startup hook is off: ITK_TAG_NO_AUTOLOAD=1 is set") for line in lines
    )


def test_broken_install_names_the_problem_and_the_fix(broken_venv: Install) -> None:
    code, lines = doctor(broken_venv)
    assert code == 1
    reinstall = f"  fix: {broken_venv.python} -m pip install --force-reinstall --no-deps itk-tag"
    for abi in _native.ABIS:
        index = next(
            i for i, line in enumerate(lines) if line.startswith(f"problem: the plugin build {abi}-itk ")
        )
        assert lines[index + 1] == reinstall
    # Every Python host still reads, through the Python-level path.
    assert not [line for line in lines if line.startswith("problem:") and "build" not in line]
    hosts = [line.split(";")[0] for line in lines if line.startswith("  ") and "the sample" in line]
    assert hosts == [
        "  SimpleITK          reads the sample (import SimpleITK)",
        "  itk (ITK Python)   reads the sample (import itk)",
        "  itk_tag.read_array reads the sample (import itk_tag)",
    ]
    paths = [line for line in lines if line.startswith("    path: ")]
    assert all(line.startswith("    path: the Python path") for line in paths), paths
    assert lines[-1] == "NOT ok: see the problems above"


def test_a_crashing_host_is_reported_not_suffered(fresh_venv: Install, tmp_path: Path) -> None:
    # Another project's plugin whose itkLoad() returns no factory at all: SimpleITK's
    # ITK writes into it at import and crashes, a real crash of a real host.
    wrong = tmp_path / "foreign-plugins"
    wrong.mkdir()
    source = tmp_path / "foreign.c"
    source.write_text("void *itkLoad(void) { return (void *)16; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(wrong / "libForeign.so"), str(source)], check=True)
    code, lines = doctor(fresh_venv, env={"ITK_AUTOLOAD_PATH": wrong})
    assert code == 1
    assert f"ITK_AUTOLOAD_PATH  {wrong}" in lines
    crashed = next(i for i, line in enumerate(lines) if line.startswith("problem: SimpleITK crashed"))
    assert "the process died of SIG" in lines[crashed]
    assert lines[crashed + 1].startswith(f"  fix: unset ITK_AUTOLOAD_PATH (it is {wrong};")
    assert any(line.startswith("  itk (ITK Python)   reads the sample") for line in lines)
