"""``itk-tag slicer install|uninstall|status|module-path`` on folders laid out like an
installed 3D Slicer on Linux (with a real ITK library in Slicer's place), Windows and
macOS, and on folders that are not Slicer. Each command runs in its own process.

The trees are real folders with Slicer's layout (Slicer's CMake/SlicerDirectories.cmake);
no real Slicer installation is run here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import itk_tag
import pytest
from conftest import DATA
from hosts import HOSTS, host_program
from tag_samples import run_cli

PLUGIN = itk_tag.plugin_path()
DEBIAN_ITK_COMMON = "libITKCommon-5.2.so.1"

# The layout of an installed Slicer's bin/SlicerLauncherSettings.ini: CTK
# AppLauncher's CTKAppLauncherSettings.ini.in filled by Slicer's
# CMake/SlicerBlockCTKAppLauncherSettings.cmake (ENVVARS_INSTALLED etc.).
LAUNCHER_SETTINGS = r"""[General]
launcherNoSplashScreen=false
launcherSplashImagePath=<APPLAUNCHER_SETTINGS_DIR>/../bin/Slicer.png
launcherSplashScreenHideDelayMs=180000
additionalLauncherHelpShortArgument=-h
additionalLauncherHelpLongArgument=--help
additionalLauncherNoSplashArguments=--no-splash,--help,--version,--home,--program-path,--no-main-window

[Application]
path=<APPLAUNCHER_SETTINGS_DIR>/SlicerApp-real
arguments=
name=Slicer
revision=33216
organizationDomain=slicer.org
organizationName=slicer.org

[ExtraApplicationToLaunch]

[Environment]
additionalPathVariables=PYTHONPATH,QT_PLUGIN_PATH

[LibraryPaths]
1\path=<APPLAUNCHER_SETTINGS_DIR>/../lib/Slicer-{xy}
2\path=<APPLAUNCHER_SETTINGS_DIR>/../lib/Slicer-{xy}/cli-modules
3\path=<APPLAUNCHER_SETTINGS_DIR>/../lib/Slicer-{xy}/qt-loadable-modules
size=3

[Paths]
1\path=<APPLAUNCHER_SETTINGS_DIR>/../bin
2\path=<APPLAUNCHER_SETTINGS_DIR>/../lib/Slicer-{xy}/cli-modules
size=2

[EnvironmentVariables]
SLICER_HOME=<APPLAUNCHER_SETTINGS_DIR>/..
ITK_AUTOLOAD_PATH=<APPLAUNCHER_SETTINGS_DIR>/../lib/Slicer-{xy}/ITKFactories
PIP_REQUIRE_VIRTUALENV=0
QTWEBENGINE_DISABLE_SANDBOX=1

[PYTHONPATH]
1\path=<APPLAUNCHER_SETTINGS_DIR>/../lib/Slicer-{xy}/qt-scripted-modules
size=1

[QT_PLUGIN_PATH]
1\path=<APPLAUNCHER_SETTINGS_DIR>/../lib/Slicer-{xy}/qt-loadable-modules
size=1
"""
UNRELATED = b"\x7fELF Slicer's own MRML ID ImageIO plugin: not itk-tag's\n"


def debian_itk_common() -> Path:
    """Debian's shared ITKCommon 5.2.1 (package libinsighttoolkit5.2; scripts/test.sh installs it)."""
    for folder in [Path("/usr/lib"), Path("/usr/lib/x86_64-linux-gnu")]:
        if (folder / DEBIAN_ITK_COMMON).is_file():
            return folder / DEBIAN_ITK_COMMON
    raise FileNotFoundError(f"{DEBIAN_ITK_COMMON}: install Debian's libinsighttoolkit5.2")


SLICER_OWN_MODULE = b"# Slicer's own scripted module: not itk-tag's\n"


def make_slicer(root: Path, itk_common: Path, xy: str = "5.8") -> Path:
    """A Slicer-X.Y-linux-amd64 tree: launcher, launcher settings, lib/Slicer-X.Y with
    ``itk_common`` as its ITKCommon library, ITKFactories with Slicer's own plugin,
    qt-scripted-modules with one of Slicer's own modules."""
    home = root / f"Slicer-{xy}.1-linux-amd64"
    (home / "bin").mkdir(parents=True)
    (home / "Slicer").write_text("#!/bin/sh\n")
    (home / "bin" / "SlicerLauncherSettings.ini").write_text(LAUNCHER_SETTINGS.replace("{xy}", xy))
    lib = home / "lib" / f"Slicer-{xy}"
    (lib / "ITKFactories").mkdir(parents=True)
    (lib / "ITKFactories" / "libMRMLIDImageIO.so").write_bytes(UNRELATED)
    (lib / "qt-scripted-modules").mkdir()
    (lib / "qt-scripted-modules" / "SegmentEditor.py").write_bytes(SLICER_OWN_MODULE)
    shutil.copyfile(itk_common, lib / itk_common.name)
    return home


def tree(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root``: (inode, mtime, content)."""
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def plugin_files() -> dict[str, bytes]:
    return {str(p.relative_to(PLUGIN)): p.read_bytes() for p in PLUGIN.rglob("*") if p.is_file()}


def module_files() -> dict[str, bytes]:
    """What the module part installs: SliceOmaticTag.py and a copy of the package's format/ sources."""
    package = Path(itk_tag.__file__).parent
    files = {"SliceOmaticTag.py": (package / "slicer_module" / "SliceOmaticTag.py").read_bytes()}
    for source in (package / "format").glob("*.py"):
        files[f"SliceOmaticTagLib/format/{source.name}"] = source.read_bytes()
    return files


@pytest.fixture
def slicer(tmp_path: Path) -> Path:
    return make_slicer(tmp_path, debian_itk_common())


def factories(home: Path, xy: str = "5.8") -> Path:
    return home / "lib" / f"Slicer-{xy}" / "ITKFactories"


def test_install_copies_the_plugin_folder_and_touches_nothing_else(slicer: Path) -> None:
    before = tree(slicer)
    result = run_cli("slicer", "install", slicer)
    assert result.returncode == 0, result.stderr
    folder = factories(slicer)
    assert f"itk-tag plugin installed in {folder}" in result.stdout
    after = tree(slicer)
    unchanged = {name: facts for name, facts in after.items() if name in before}
    assert unchanged == before  # Slicer's own plugin, module, library and settings untouched
    in_factories = folder.relative_to(slicer)
    installed = {
        str(Path(name).relative_to(in_factories)): facts[2]
        for name, facts in after.items()
        if name not in before and Path(name).is_relative_to(in_factories)
    }
    assert installed == plugin_files()
    modules = folder.parent / "qt-scripted-modules"
    module = {
        str(Path(name).relative_to(modules.relative_to(slicer))): facts[2]
        for name, facts in after.items()
        if name not in before and not Path(name).is_relative_to(in_factories)
    }
    assert module == module_files()
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["itk-tag-builds", "libIOTagPlugin.so", "libMRMLIDImageIO.so"]
    for name in installed:
        assert (folder / name).stat().st_mode == (PLUGIN / name).stat().st_mode


def test_install_twice_is_harmless(slicer: Path) -> None:
    assert run_cli("slicer", "install", slicer).returncode == 0
    first = tree(slicer)
    again = run_cli("slicer", "install", slicer)
    assert again.returncode == 0, again.stderr
    assert f"(0 files written, {len(plugin_files())} already up to date)" in again.stdout
    assert tree(slicer) == first


def test_install_replaces_a_changed_file_by_renaming(slicer: Path) -> None:
    assert run_cli("slicer", "install", slicer).returncode == 0
    entry = factories(slicer) / "libIOTagPlugin.so"
    entry.write_bytes(b"an older itk-tag")
    inode = entry.stat().st_ino
    result = run_cli("slicer", "install", slicer)
    assert result.returncode == 0, result.stderr
    assert "(1 files written" in result.stdout
    assert entry.read_bytes() == (PLUGIN / "libIOTagPlugin.so").read_bytes()
    assert entry.stat().st_ino != inode  # a new file: a running Slicer keeps the one it mapped
    assert not [p for p in factories(slicer).rglob(".*")]


def test_install_over_an_earlier_itk_tag_removes_its_stale_builds(slicer: Path) -> None:
    assert run_cli("slicer", "install", slicer).returncode == 0
    stale = factories(slicer) / "itk-tag-builds" / "new" / "libIOTagImageIO.so"  # an older layout
    stale.parent.mkdir()
    stale.write_bytes(b"an older itk-tag's build")
    code, facts = status(slicer)
    assert code == 1 and facts["plugin"] == "different"
    result = run_cli("slicer", "install", slicer)
    assert result.returncode == 0, result.stderr
    assert "1 earlier builds removed" in result.stdout
    assert not stale.parent.exists()
    assert status(slicer)[1]["plugin"] == "same"


def test_uninstall_removes_only_what_install_put(slicer: Path) -> None:
    before = tree(slicer)
    assert run_cli("slicer", "install", slicer).returncode == 0
    result = run_cli("slicer", "uninstall", slicer)
    assert result.returncode == 0, result.stderr
    assert f"removed from {factories(slicer)} ({len(plugin_files())} files)" in result.stdout
    assert tree(slicer) == before
    assert [p.name for p in factories(slicer).iterdir()] == ["libMRMLIDImageIO.so"]
    again = run_cli("slicer", "uninstall", slicer)
    assert again.returncode == 0 and "nothing removed" in again.stdout
    assert tree(slicer) == before


def test_uninstall_keeps_a_foreign_file_in_the_builds_folder(slicer: Path) -> None:
    assert run_cli("slicer", "install", slicer).returncode == 0
    note = factories(slicer) / "itk-tag-builds" / "NOTES.txt"
    note.write_text("someone's notes")
    assert run_cli("slicer", "uninstall", slicer).returncode == 0
    assert note.read_text() == "someone's notes"
    assert sorted(p.name for p in factories(slicer).rglob("*")) == [
        "NOTES.txt", "itk-tag-builds", "libMRMLIDImageIO.so"
    ]  # fmt: skip


def status(home: Path, **kwargs: object) -> tuple[int, dict]:
    result = run_cli("slicer", "status", home, "--json", **kwargs)  # type: ignore[arg-type]
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_status_before_and_after_install(slicer: Path) -> None:
    code, facts = status(slicer)
    assert code == 1
    assert facts["slicer_version"] == "5.8" and facts["slicer_revision"] == "33216"
    assert facts["itk_library"] == str(slicer / "lib" / "Slicer-5.8" / DEBIAN_ITK_COMMON)
    assert (facts["itk_version"], facts["abi"], facts["namespace"]) == ("itk version 5.2.1", "new", "itk")
    assert facts["plugin"] == "not installed" and not facts["serves"] and not facts["ok"]
    assert "would serve it" in facts["reason"]

    assert run_cli("slicer", "install", slicer).returncode == 0
    code, facts = status(slicer)
    assert code == 0
    assert facts["plugin"] == "same" and facts["serves"] and facts["ok"] and facts["reason"] == ""

    text = run_cli("slicer", "status", slicer)
    assert text.returncode == 0
    lines = dict(line.split(":", 1) for line in text.stdout.splitlines())
    assert lines["Slicer"].strip() == f"5.8, revision 33216, linux, {slicer}"
    assert lines["module"].strip().startswith("installed (this itk-tag's)")
    assert lines["libstdc++ ABI"].strip() == "new" and lines["ITK namespace"].strip() == "itk"
    assert lines["itk-tag plugin"].strip() == "installed (this itk-tag's)"
    assert lines["serves Slicer"].strip() == "yes"


def test_status_tells_a_changed_or_incomplete_plugin(slicer: Path) -> None:
    assert run_cli("slicer", "install", slicer).returncode == 0
    build = factories(slicer) / "itk-tag-builds" / "new-itk" / "libIOTagImageIO.so"
    build.unlink()
    code, facts = status(slicer)
    assert code == 1 and facts["plugin"] == "different" and not facts["serves"]
    assert "no build for the new ABI in namespace itk" in facts["reason"]


def test_slicer_home_defaults_to_the_environment(slicer: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "SLICER_HOME"}
    missing = run_cli("slicer", "status", env=environment)
    assert missing.returncode == 2
    assert "give SLICER_HOME" in missing.stderr and "Traceback" not in missing.stderr
    result = run_cli("slicer", "install", env={**environment, "SLICER_HOME": str(slicer)})
    assert result.returncode == 0, result.stderr
    assert (factories(slicer) / "libIOTagPlugin.so").is_file()


def not_slicer(root: Path, case: str) -> Path:
    """Folders that are not an installed Slicer, each a plausible mistake."""
    home = root / case
    if case == "missing":
        return home
    if case == "empty":
        home.mkdir()
    elif case == "lib-only":  # has lib/Slicer-5.8/ITKFactories, but no launcher settings
        factories(home).mkdir(parents=True)
    elif case == "no-autoload":
        (home / "bin").mkdir(parents=True)
        (home / "lib" / "Slicer-5.8").mkdir(parents=True)
        settings = LAUNCHER_SETTINGS.replace("{xy}", "5.8").splitlines()
        (home / "bin" / "SlicerLauncherSettings.ini").write_text(
            "\n".join(line for line in settings if not line.startswith("ITK_AUTOLOAD_PATH"))
        )
    elif case == "bin-folder":  # the user gave SLICER_HOME/bin
        home = make_slicer(root / case, debian_itk_common()) / "bin"
    elif case == "not-ini":
        (home / "bin").mkdir(parents=True)
        (home / "bin" / "SlicerLauncherSettings.ini").write_bytes(b"\x00\x01 binary [")
    return home


@pytest.mark.parametrize("case", ["missing", "empty", "lib-only", "no-autoload", "bin-folder", "not-ini"])
@pytest.mark.parametrize("action", ["install", "uninstall", "status"])
def test_not_a_slicer_installation(tmp_path: Path, case: str, action: str) -> None:
    home = not_slicer(tmp_path, case)
    before = tree(tmp_path)
    result = run_cli("slicer", action, home)
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(home) in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert tree(tmp_path) == before


def test_an_itk_it_does_not_serve_gets_the_module_only(tmp_path: Path) -> None:
    # The unserved-host program's "itk version 4.13.3" stands in for an ITK itk-tag does not serve.
    unserved = host_program(HOSTS[0]).parent / "itkTagUnservedHost"
    home = make_slicer(tmp_path, debian_itk_common())
    shutil.copyfile(unserved, home / "lib" / "Slicer-5.8" / "libITKCommon-4.13.so.1")
    (home / "lib" / "Slicer-5.8" / DEBIAN_ITK_COMMON).unlink()
    before = tree(factories(home))
    result = run_cli("slicer", "install", home)
    assert result.returncode == 0, result.stderr
    assert "itk-tag plugin not installed: its ITK (itk version 4.13.3)" in result.stdout
    assert tree(factories(home)) == before
    assert (factories(home).parent / "qt-scripted-modules" / "SliceOmaticTag.py").is_file()
    code, facts = status(home)
    assert code == 0 and facts["itk_version"] == "itk version 4.13.3" and not facts["serves"]
    assert facts["module"] == "same" and not facts["native"] and facts["plugin"] == "not installed"
    forced = run_cli("slicer", "install", "--force", home)
    assert forced.returncode == 0, forced.stderr
    assert (factories(home) / "libIOTagPlugin.so").is_file()


@pytest.mark.parametrize(("name", "xy"), [("old-slicer_itk", "5.8"), ("new-slicer_itk", "5.12")])
def test_a_slicer_like_itk_in_slicer_itk(tmp_path: Path, name: str, xy: str) -> None:
    """Slicer 5.8's case (old ABI, namespace slicer_itk) and 5.12's (new ABI):
    status reads it, and the installed copy serves a C++ host on that ITK through
    the tree's ITKFactories. The test host's ITK is static in its program, which
    exports its symbols as a shared ITKCommon does: that program stands in for
    Slicer's ITKCommon."""
    host = next(h for h in HOSTS if h.name == name)
    program = host_program(host)
    home = make_slicer(tmp_path, debian_itk_common(), xy)
    lib = home / "lib" / f"Slicer-{xy}"
    (lib / DEBIAN_ITK_COMMON).unlink()
    shutil.copyfile(program, lib / "libITKCommon-5.2.so.1")
    assert run_cli("slicer", "install", home).returncode == 0
    code, facts = status(home)
    assert code == 0, facts
    assert facts["slicer_version"] == xy
    assert (facts["abi"], facts["namespace"]) == (host.abi, "slicer_itk")
    assert facts["itk_version"] == "itk version 5.2.1"
    # What Slicer's launcher does: ITK_AUTOLOAD_PATH = lib/Slicer-X.Y/ITKFactories.
    result = subprocess.run(
        [str(program), str(DATA / "barbell2-10.tag")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "ITK_AUTOLOAD_PATH": str(factories(home, xy))},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["io"] == "TagImageIO"
    assert "did not return" not in result.stderr


# ---------------------------------------------------------------- the module, on every OS's layout
#
# Windows: the installer's folder (Slicer.exe, bin/ with the launcher settings and the DLLs,
# lib/Slicer-X.Y/); macOS: Slicer.app/Contents holds bin/ and lib/ (Slicer_INSTALL_ROOT in
# Slicer's CMake/SlicerDirectories.cmake). Folders with these layouts, not real installations.


def make_other_slicer(root: Path, system: str, xy: str = "5.8") -> tuple[Path, Path]:
    """A Windows or macOS Slicer tree; returns (what the user names, its qt-scripted-modules)."""
    if system == "windows":
        home = root / f"Slicer {xy}.1"
        base = home
        (home / "bin").mkdir(parents=True)
        (home / "Slicer.exe").write_bytes(b"MZ launcher")
        (home / "bin" / "ITKCommon-5.4.dll").write_bytes(b"MZ Slicer's ITK")
    else:
        home = root / "Slicer.app"
        base = home / "Contents"
        (base / "MacOS").mkdir(parents=True)
        (base / "MacOS" / "Slicer").write_bytes(b"\xcf\xfa\xed\xfe launcher")
        (base / "bin").mkdir()
    (base / "bin" / "SlicerLauncherSettings.ini").write_text(LAUNCHER_SETTINGS.replace("{xy}", xy))
    lib = base / "lib" / f"Slicer-{xy}"
    (lib / "ITKFactories").mkdir(parents=True)
    (lib / "qt-scripted-modules").mkdir()
    (lib / "qt-scripted-modules" / "SegmentEditor.py").write_bytes(SLICER_OWN_MODULE)
    return home, lib / "qt-scripted-modules"


def test_module_path_holds_the_module_beside_the_format_folder() -> None:
    result = run_cli("slicer", "module-path")
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip())
    assert (folder / "SliceOmaticTag.py").is_file()
    assert (folder.parent / "format" / "__init__.py").is_file() and folder.parent.name == "itk_tag"


@pytest.mark.parametrize("system", ["windows", "macos"])
def test_module_install_status_uninstall_on_windows_and_macos(tmp_path: Path, system: str) -> None:
    home, modules = make_other_slicer(tmp_path, system)
    before = tree(tmp_path)
    code, facts = status(home)
    assert code == 1 and facts["system"] == system and facts["module"] == "not installed"
    assert facts["module_folder"] == str(modules) and facts["plugin"] == "not applicable"

    result = run_cli("slicer", "install", home)
    assert result.returncode == 0, result.stderr
    assert (
        f"SliceOmaticTag module installed in {modules} ({len(module_files())} files written" in result.stdout
    )
    assert "the native plugin is for Linux" in result.stdout
    after = tree(tmp_path)
    assert {name: facts for name, facts in after.items() if name in before} == before
    added = {str(Path(name).relative_to(modules.relative_to(tmp_path))): facts[2]
             for name, facts in after.items() if name not in before}  # fmt: skip
    assert added == module_files()  # only the module; nothing in ITKFactories
    code, facts = status(home)
    assert code == 0 and facts["ok"] and facts["module"] == "same" and not facts["native"]

    again = run_cli("slicer", "install", home)
    assert (
        again.returncode == 0
        and f"(0 files written, {len(module_files())} already up to date)" in again.stdout
    )
    assert tree(tmp_path) == after

    # Slicer's Python compiles the module where it may: those files are the module's too.
    compiled = subprocess.run([sys.executable, "-m", "compileall", "-q", str(modules)], capture_output=True)
    assert compiled.returncode == 0
    assert list((modules / "__pycache__").glob("SliceOmaticTag.*.pyc"))
    removed = run_cli("slicer", "uninstall", home)
    assert removed.returncode == 0, removed.stderr
    assert "SliceOmaticTag module removed" in removed.stdout and "plugin" not in removed.stdout
    left = {name: facts for name, facts in tree(tmp_path).items() if "__pycache__/SegmentEditor" not in name}
    assert left == before
    assert sorted(p.name for p in modules.iterdir()) == ["SegmentEditor.py", "__pycache__"]


def test_module_install_replaces_changed_files_and_removes_stale_ones(slicer: Path) -> None:
    assert run_cli("slicer", "install", slicer).returncode == 0
    modules = factories(slicer).parent / "qt-scripted-modules"
    stale = modules / "SliceOmaticTagLib" / "format" / "retired.py"
    stale.write_text("# a format module an earlier itk-tag had\n")
    module = modules / "SliceOmaticTag.py"
    module.write_text("# an older module\n")
    inode = module.stat().st_ino
    assert status(slicer)[1]["module"] == "different"
    result = run_cli("slicer", "install", slicer)
    assert result.returncode == 0, result.stderr
    assert "(1 files written" in result.stdout and "1 earlier files removed" in result.stdout
    assert not stale.exists() and module.stat().st_ino != inode
    assert module.read_bytes() == module_files()["SliceOmaticTag.py"]
    assert status(slicer)[1]["module"] == "same"
    assert not [p for p in modules.rglob(".*")]


def test_a_read_only_slicer_is_reported_not_crashed(slicer: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    modules = factories(slicer).parent / "qt-scripted-modules"
    modules.chmod(0o555)
    try:
        result = run_cli("slicer", "install", slicer)
    finally:
        modules.chmod(0o755)
    assert (
        result.returncode == 1 and "Traceback" not in result.stderr and "Permission denied" in result.stderr
    )
