"""3D Slicer: the itk-tag plugin in a Slicer installation's ``ITKFactories`` folder.

Slicer's launcher sets ``ITK_AUTOLOAD_PATH`` to its own
``lib/Slicer-X.Y/ITKFactories`` folder, replacing any value the user exported
(Slicer: CMake/SlicerBlockCTKAppLauncherSettings.cmake; CTK AppLauncher:
Base/ctkAppLauncher.cpp, ``buildEnvironment``), so the plugin reaches Slicer's
ITK only by being copied there. The folder is found the way the launcher finds
it: the ``ITK_AUTOLOAD_PATH`` entry of ``bin/SlicerLauncherSettings.ini``.

Only files of itk-tag's own names are ever written or removed there: the entry
library and the ``itk-tag-builds`` folder, the layout of
:func:`itk_tag.plugins.plugin_path`. Slicer's own plugins (libMRMLIDImageIO.so)
and anything else in the folder are left alone. Each file is written to a
hidden temporary name that ITK does not load (it loads only names ending in
``.so``) and renamed into place: a Slicer that is running keeps the library it
mapped, one that starts meanwhile sees each file whole or not at all.
"""

from __future__ import annotations

import configparser
import filecmp
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from ..batch.writers import temporary_path
from ..errors import UsageError
from . import native as _native
from . import plugins
from .native import BUILDS_FOLDER

LAUNCHER_SETTINGS = Path("bin") / "SlicerLauncherSettings.ini"
_LIB_FOLDER = re.compile(r"Slicer-(\d+\.\d+)")


class NotSlicerError(UsageError):
    """The given folder is not a 3D Slicer installation (the message says why)."""


@dataclass(frozen=True)
class SlicerInstall:
    """A 3D Slicer installation on disk.

    ``home`` holds the launcher, ``version`` is "X.Y" (from ``lib/Slicer-X.Y``),
    ``revision`` the launcher settings' ``[Application] revision`` ("" if none),
    ``factories`` the folder on Slicer's ``ITK_AUTOLOAD_PATH``.
    """

    home: Path
    version: str
    revision: str
    factories: Path

    @property
    def itk_common(self) -> Path | None:
        """Slicer's ITKCommon library (``lib/Slicer-X.Y/libITKCommon-5.4.so.1``), or None."""
        found = sorted(p for p in self.factories.parent.glob("libITKCommon-*.so*") if p.is_file())
        return found[0] if found else None


def _read_settings(path: Path) -> configparser.ConfigParser:
    # The launcher's file is Qt's QSettings INI: keys such as `1\path`, values
    # with `<...>` placeholders; no interpolation, case kept.
    settings = configparser.ConfigParser(interpolation=None, strict=False)
    settings.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        settings.read_string(path.read_text(encoding="utf-8", errors="replace"), source=str(path))
    except configparser.Error as error:
        raise NotSlicerError(f"{path}: not a launcher settings file ({error.message})") from None
    return settings


def find_slicer(home: str | os.PathLike[str]) -> SlicerInstall:
    """Describes the 3D Slicer installed in ``home`` (the folder with the ``Slicer`` launcher).

    Raises NotSlicerError (a UsageError) when ``home`` has no
    ``bin/SlicerLauncherSettings.ini`` whose ``ITK_AUTOLOAD_PATH`` names an
    existing ``lib/Slicer-X.Y`` folder of ``home``.
    """
    home = Path(home).expanduser().absolute()
    if not home.is_dir():
        raise NotSlicerError(f"{home}: no such folder")
    settings_file = home / LAUNCHER_SETTINGS
    if not settings_file.is_file():
        raise NotSlicerError(f"{home}: not a 3D Slicer installation (no {LAUNCHER_SETTINGS})")
    settings = _read_settings(settings_file)
    value = settings.get("EnvironmentVariables", "ITK_AUTOLOAD_PATH", fallback="")
    if not value:
        raise NotSlicerError(f"{settings_file}: no ITK_AUTOLOAD_PATH in [EnvironmentVariables]")
    expanded = value.replace("<APPLAUNCHER_SETTINGS_DIR>", str(settings_file.parent))
    expanded = expanded.replace("<APPLAUNCHER_DIR>", str(home))
    factories = Path(os.path.normpath(expanded))
    match = _LIB_FOLDER.fullmatch(factories.parent.name)
    if factories.name != "ITKFactories" or match is None or factories.parent.parent != home / "lib":
        raise NotSlicerError(
            f"{settings_file}: ITK_AUTOLOAD_PATH={value} is not <home>/lib/Slicer-X.Y/ITKFactories"
        )
    if not factories.parent.is_dir():
        raise NotSlicerError(f"{home}: not a 3D Slicer installation (no {factories.parent})")
    revision = settings.get("Application", "revision", fallback="")
    return SlicerInstall(home, match.group(1), revision, factories)


def default_home() -> Path:
    """``$SLICER_HOME`` (the launcher sets it inside Slicer); UsageError when it is not set."""
    home = os.environ.get("SLICER_HOME")
    if not home:
        raise UsageError("give SLICER_HOME, the folder of the Slicer launcher, or set $SLICER_HOME")
    return Path(home)


def _plugin_files() -> list[Path]:
    """The plugin folder's files, relative to it: the entry library last."""
    root = plugins.plugin_path()
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    # Builds before the entry: a Slicer that starts meanwhile never loads an
    # entry whose builds are not there yet.
    return sorted(files, key=lambda p: p.parts[0] != BUILDS_FOLDER)


def _ours(factories: Path) -> list[Path]:
    """Files of itk-tag's names in ``factories``, relative to it (entry library first)."""
    names = [p for p in _plugin_files() if p.parts[0] != BUILDS_FOLDER]
    found = [name for name in names if (factories / name).is_file()]
    builds = factories / BUILDS_FOLDER
    if builds.is_dir():
        found += sorted(p.relative_to(factories) for p in builds.glob("*/*.so") if p.is_file())
    return found


def _copy(source: Path, destination: Path) -> None:
    # Never rewritten in place: a running Slicer has the old file mapped.
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(destination, "tmp")
    try:
        shutil.copyfile(source, temporary)
        shutil.copymode(source, temporary)
        os.replace(temporary, destination)
    finally:
        if temporary.exists():
            temporary.unlink()


@dataclass(frozen=True)
class InstallReport:
    """What :func:`install` did, as paths relative to ``ITKFactories``: files
    written, files already identical, and builds of an earlier itk-tag removed.
    """

    written: list[Path]
    unchanged: list[Path]
    removed: list[Path]


def install(slicer: SlicerInstall) -> InstallReport:
    """Copies the plugin folder's files into ``slicer.factories``; identical files are kept,
    builds that this itk-tag no longer has are removed.

    Raises OSError (read-only installation, full disk, ...): files already
    copied stay, each whole; the entry library is copied last.
    """
    root = plugins.plugin_path()
    expected = _plugin_files()
    written, unchanged = [], []
    for name in expected:
        source, destination = root / name, slicer.factories / name
        if destination.is_file() and filecmp.cmp(source, destination, shallow=False):
            unchanged.append(name)
            continue
        _copy(source, destination)
        written.append(name)
    # After the entry: the new one never asks for them.
    removed = [name for name in _ours(slicer.factories) if name not in expected]
    _remove(slicer.factories, removed)
    return InstallReport(written, unchanged, removed)


def _remove(factories: Path, names: list[Path]) -> None:
    """Removes ``names`` from ``factories``, then the build folders this leaves empty."""
    for name in names:
        (factories / name).unlink()
    builds = factories / BUILDS_FOLDER
    if builds.is_dir():
        for folder in builds.iterdir():
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if not any(builds.iterdir()):
            builds.rmdir()


def uninstall(slicer: SlicerInstall) -> list[Path]:
    """Removes itk-tag's files from ``slicer.factories``; returns them (relative paths).

    Removes the entry library first (Slicer then loads nothing of itk-tag),
    then the builds, then the ``itk-tag-builds`` folders left empty. Raises OSError.
    """
    removed = _ours(slicer.factories)
    _remove(slicer.factories, removed)
    return removed


@dataclass(frozen=True)
class SlicerStatus:
    """What ``itk-tag slicer status`` reports about one Slicer installation.

    ``abi``/``namespace``/``itk_version`` are read from Slicer's ITKCommon
    library as the plugin's entry library reads its caller
    (:func:`itk_tag.plugins.describe_library`). ``plugin`` is "not installed",
    "same" (the files of this itk-tag) or "different" (another itk-tag's, or
    incomplete). ``serves`` is True when the installed plugin will read .tag
    files in this Slicer; ``reason`` says why not.
    """

    home: str
    slicer_version: str
    slicer_revision: str
    factories: str
    itk_library: str
    itk_version: str
    abi: str
    namespace: str
    plugin: str
    serves: bool
    reason: str

    @property
    def ok(self) -> bool:
        """True when this itk-tag's plugin is installed and serves this Slicer."""
        return self.plugin == "same" and self.serves

    def to_dict(self) -> dict[str, object]:
        """The status as a JSON-ready dict."""
        return {**asdict(self), "ok": self.ok}

    def report(self) -> str:
        """The status as aligned ``name: value`` lines."""
        plugin = {
            "same": "installed (this itk-tag's)",
            "different": "installed, but not this itk-tag's files (itk-tag slicer install replaces them)",
            "not installed": "not installed (itk-tag slicer install)",
        }[self.plugin]
        revision = f", revision {self.slicer_revision}" if self.slicer_revision else ""
        lines = [
            ("Slicer", f"{self.slicer_version}{revision}, {self.home}"),
            ("ITK", f"{self.itk_version or 'unknown'} ({self.itk_library or 'no libITKCommon found'})"),
            ("libstdc++ ABI", self.abi),
            ("ITK namespace", self.namespace),
            ("ITKFactories", self.factories),
            ("itk-tag plugin", plugin),
            ("serves Slicer", "yes" if self.serves else f"no: {self.reason}"),
        ]
        return "\n".join(f"{name + ':':<15} {value}" for name, value in lines)


def _plugin_state(factories: Path) -> str:
    installed = set(_ours(factories))
    if not installed:
        return "not installed"
    root = plugins.plugin_path()
    expected = _plugin_files()
    same = installed == set(expected) and all(
        filecmp.cmp(root / name, factories / name, shallow=False) for name in expected
    )
    return "same" if same else "different"


def _build_name(abi: str, namespace: str) -> Path | None:
    """The relative path of this itk-tag's build for ``abi``/``namespace``, or None if it has none."""
    try:
        return _native.plugin_library(abi, namespace).relative_to(plugins.plugin_path())
    except FileNotFoundError:
        return None


def _host(slicer: SlicerInstall) -> tuple[Path | None, plugins.HostLibrary]:
    library = slicer.itk_common
    if library is None:
        return None, plugins.HostLibrary("unknown", "unknown", "")
    return library, plugins.describe_library(library)


def _unsupported(library: Path | None, host: plugins.HostLibrary) -> str:
    """Why this itk-tag's plugin cannot serve a Slicer whose ITKCommon is ``library`` ("" if it can)."""
    if library is None:
        return "no libITKCommon-*.so* found beside it"
    if not plugins.serves(host.itk_version):
        return f"its ITK ({host.itk_version or 'version unknown'}) is not one itk-tag serves (ITK 5.2 to 5.4)"
    if host.abi not in ("new", "old"):
        return f"its libstdc++ ABI cannot be told from {library.name}"
    if _build_name(host.abi, host.namespace) is None:
        return f"this itk-tag has no build for the {host.abi} ABI in namespace {host.namespace}"
    return ""


def _not_installed(factories: Path, host: plugins.HostLibrary, state: str) -> str:
    """Why the plugin in ``factories`` does not serve a host this itk-tag supports ("" if it does)."""
    if state == "not installed":
        return "the plugin is not installed (this itk-tag's would serve it)"
    build = _build_name(host.abi, host.namespace)
    if build is None or not (factories / build).is_file():
        return f"the installed plugin has no build for the {host.abi} ABI in namespace {host.namespace}"
    return ""


def unsupported_reason(slicer: SlicerInstall) -> str:
    """Why this itk-tag's plugin cannot serve ``slicer`` ("" when it can).

    Raises OSError when Slicer's ITKCommon library cannot be read as an ELF file.
    """
    return _unsupported(*_host(slicer))


def status(slicer: SlicerInstall) -> SlicerStatus:
    """Reads what the plugin's entry library will see in ``slicer`` and what is installed.

    Raises OSError when Slicer's ITKCommon library cannot be read as an ELF file.
    """
    library, host = _host(slicer)
    state = _plugin_state(slicer.factories)
    reason = _unsupported(library, host) or _not_installed(slicer.factories, host, state)
    return SlicerStatus(
        home=str(slicer.home),
        slicer_version=slicer.version,
        slicer_revision=slicer.revision,
        factories=str(slicer.factories),
        itk_library=str(library) if library else "",
        itk_version=host.itk_version,
        abi=host.abi,
        namespace=host.namespace,
        plugin=state,
        serves=reason == "",
        reason=reason,
    )
