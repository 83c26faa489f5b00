"""3D Slicer: the SliceOmaticTag module (every OS) and the itk-tag plugin (Linux) in a Slicer installation.

The module (``itk_tag/slicer_module/SliceOmaticTag.py``, pure Python) goes
into the folder Slicer loads its own scripted modules from,
``lib/Slicer-X.Y/qt-scripted-modules`` under the installation's root: the
folder of the launcher on Linux and Windows, ``Slicer.app/Contents`` on macOS
(Slicer's CMake/SlicerDirectories.cmake: ``Slicer_QTSCRIPTEDMODULES_LIB_DIR``
is ``${Slicer_LIB_DIR}/qt-scripted-modules``, ``Slicer_LIB_DIR`` is
``lib/Slicer-X.Y``, and ``Slicer_INSTALL_ROOT`` is ``Slicer.app/Contents/`` on
Apple; the launcher settings go to ``${Slicer_INSTALL_BIN_DIR}``, ``bin/``
under that root). Beside it, ``SliceOmaticTagLib/format`` is a copy of the
package's ``format`` folder, the only part of itk-tag the module uses. Only
these names are ever written or removed there.

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
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UsageError
from . import native as _native
from . import plugins
from .native import BUILDS_FOLDER

LAUNCHER_SETTINGS = Path("bin") / "SlicerLauncherSettings.ini"
_LIB_FOLDER = re.compile(r"Slicer-(\d+\.\d+)")
SCRIPTED_MODULES = "qt-scripted-modules"
MODULE_FILE = "SliceOmaticTag.py"
MODULE_LIB = "SliceOmaticTagLib"
"""The module's own folder beside it (Slicer's convention: ``<Module>Lib``), holding ``format/``."""


class NotSlicerError(UsageError):
    """The given folder is not a 3D Slicer installation (the message says why)."""


@dataclass(frozen=True)
class SlicerInstall:
    """A 3D Slicer installation on disk.

    ``home`` is the folder the user named (the launcher's folder, or ``Slicer.app``),
    ``root`` the one holding ``bin/`` and ``lib/`` (``home``, or ``Slicer.app/Contents``),
    ``version`` is "X.Y" (from ``lib/Slicer-X.Y``), ``revision`` the launcher settings'
    ``[Application] revision`` ("" if none), ``factories`` the folder on Slicer's
    ``ITK_AUTOLOAD_PATH``, ``system`` "linux", "windows" (``Slicer.exe`` beside ``bin/``)
    or "macos" (a ``Slicer.app`` bundle).
    """

    home: Path
    version: str
    revision: str
    factories: Path
    root: Path
    system: str

    @property
    def scripted_modules(self) -> Path:
        """``lib/Slicer-X.Y/qt-scripted-modules``: where Slicer loads its scripted modules from."""
        return self.factories.parent / SCRIPTED_MODULES

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


def _root_and_system(home: Path) -> tuple[Path, str]:
    """The folder holding ``bin/`` and ``lib/``, and the OS the installation is for."""
    if home.suffix == ".app" and (home / "Contents").is_dir():
        return home / "Contents", "macos"
    if home.name == "Contents" and home.parent.suffix == ".app":
        return home, "macos"
    return home, "windows" if (home / "Slicer.exe").is_file() else "linux"


def find_slicer(home: str | os.PathLike[str]) -> SlicerInstall:
    """Describes the 3D Slicer installed in ``home``: the folder with the ``Slicer`` launcher
    (Linux, Windows) or the ``Slicer.app`` bundle (macOS).

    Raises NotSlicerError (a UsageError) when ``home`` has no
    ``bin/SlicerLauncherSettings.ini`` (macOS: ``Contents/bin/...``) whose
    ``ITK_AUTOLOAD_PATH`` names an existing ``lib/Slicer-X.Y`` folder beside it.
    """
    home = Path(home).expanduser().absolute()
    if not home.is_dir():
        raise NotSlicerError(f"{home}: no such folder")
    root, system = _root_and_system(home)
    settings_file = root / LAUNCHER_SETTINGS
    if not settings_file.is_file():
        raise NotSlicerError(f"{home}: not a 3D Slicer installation (no {settings_file.relative_to(home)})")
    settings = _read_settings(settings_file)
    value = settings.get("EnvironmentVariables", "ITK_AUTOLOAD_PATH", fallback="")
    if not value:
        raise NotSlicerError(f"{settings_file}: no ITK_AUTOLOAD_PATH in [EnvironmentVariables]")
    expanded = value.replace("<APPLAUNCHER_SETTINGS_DIR>", str(settings_file.parent))
    expanded = expanded.replace("<APPLAUNCHER_DIR>", str(root))
    # Windows settings may use backslashes; the path is read on any OS.
    factories = Path(os.path.normpath(expanded.replace("\\", "/")))
    match = _LIB_FOLDER.fullmatch(factories.parent.name)
    if factories.name != "ITKFactories" or match is None or factories.parent.parent != root / "lib":
        raise NotSlicerError(
            f"{settings_file}: ITK_AUTOLOAD_PATH={value} is not <home>/lib/Slicer-X.Y/ITKFactories"
        )
    if not factories.parent.is_dir():
        raise NotSlicerError(f"{home}: not a 3D Slicer installation (no {factories.parent})")
    revision = settings.get("Application", "revision", fallback="")
    return SlicerInstall(home, match.group(1), revision, factories, root, system)


def module_path() -> Path:
    """The folder holding ``SliceOmaticTag.py`` in this itk-tag (``itk-tag slicer module-path``).

    Slicer can load the module from there (Application Settings > Modules >
    Additional module paths): it finds ``format/`` in the package beside it.
    """
    return Path(__file__).resolve().parents[1] / "slicer_module"


def _module_files() -> dict[Path, Path]:
    """What the module part installs: path relative to ``qt-scripted-modules`` -> source file.

    The format folder first, the module file last: a Slicer that starts meanwhile never
    imports a module whose format folder is not there yet.
    """
    package = Path(__file__).resolve().parents[1]
    files = {
        Path(MODULE_LIB) / "format" / source.name: source
        for source in sorted((package / "format").glob("*.py"))
    }
    files[Path(MODULE_FILE)] = module_path() / MODULE_FILE
    return files


def _module_ours(folder: Path) -> list[Path]:
    """Files of the module's names in ``folder`` (qt-scripted-modules), relative to it, module file first.

    Python's compiled copies (``__pycache__``) of them are included: they are ours too.
    """
    found = [Path(MODULE_FILE)] if (folder / MODULE_FILE).is_file() else []
    found += sorted(p.relative_to(folder) for p in (folder / "__pycache__").glob("SliceOmaticTag.*.pyc"))
    lib = folder / MODULE_LIB
    if lib.is_dir():
        found += sorted(p.relative_to(folder) for p in lib.rglob("*") if p.is_file())
    return found


def _module_state(folder: Path) -> str:
    """The module's state in ``folder``: "same" (this itk-tag's files), "different" or "not installed"."""
    sources = [p for p in _module_ours(folder) if "__pycache__" not in p.parts]
    if not sources:
        return "not installed"
    expected = _module_files()
    same = set(sources) == set(expected) and all(
        filecmp.cmp(source, folder / name, shallow=False) for name, source in expected.items()
    )
    return "same" if same else "different"


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
    # A new, hidden name beside it that ITK does not load (it loads names ending in .so).
    handle, name = tempfile.mkstemp(suffix=".tmp", prefix=f".{destination.name}.", dir=destination.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        shutil.copyfile(source, temporary)
        shutil.copymode(source, temporary)
        os.replace(temporary, destination)
    finally:
        if temporary.exists():
            temporary.unlink()


def _copy_all(files: dict[Path, Path], folder: Path) -> tuple[list[Path], list[Path]]:
    """Copies ``files`` (relative destination -> source) into ``folder``, in their order,
    each whole; returns (written, already identical) relative paths.
    """
    written, unchanged = [], []
    for name, source in files.items():
        destination = folder / name
        if destination.is_file() and filecmp.cmp(source, destination, shallow=False):
            unchanged.append(name)
            continue
        _copy(source, destination)
        written.append(name)
    return written, unchanged


@dataclass(frozen=True)
class InstallReport:
    """What :func:`install_plugin` or :func:`install_module` did, as paths relative to the
    folder they fill: files written, files already identical, and files of an earlier
    itk-tag removed.
    """

    written: list[Path]
    unchanged: list[Path]
    removed: list[Path]


def install_module(slicer: SlicerInstall) -> InstallReport:
    """Copies the SliceOmaticTag module and its format folder into ``slicer.scripted_modules``;
    identical files are kept, files an earlier itk-tag put in ``SliceOmaticTagLib`` and this
    one lacks are removed (after the module file is in place).

    Raises OSError (read-only installation, full disk, ...): files already copied stay, each whole.
    """
    folder = slicer.scripted_modules
    expected = _module_files()
    written, unchanged = _copy_all(expected, folder)
    removed = [
        name
        for name in _module_ours(folder)
        if name not in expected and name.parts[0] == MODULE_LIB and "__pycache__" not in name.parts
    ]
    _remove_module_files(folder, removed)
    return InstallReport(written, unchanged, removed)


def _remove_module_files(folder: Path, names: list[Path]) -> None:
    """Removes ``names`` from ``folder``, then the SliceOmaticTagLib folders this leaves empty."""
    for name in names:
        (folder / name).unlink()
    lib = folder / MODULE_LIB
    if lib.is_dir():
        for sub in sorted(
            (p for p in lib.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        ):
            if not any(sub.iterdir()):
                sub.rmdir()
        if not any(lib.iterdir()):
            lib.rmdir()


def uninstall_module(slicer: SlicerInstall) -> list[Path]:
    """Removes the module from ``slicer.scripted_modules`` (module file first, then its
    compiled copies and SliceOmaticTagLib); returns what was removed. Raises OSError.
    """
    removed = _module_ours(slicer.scripted_modules)
    _remove_module_files(slicer.scripted_modules, removed)
    return removed


def install_plugin(slicer: SlicerInstall) -> InstallReport:
    """Copies the plugin folder's files into ``slicer.factories``; identical files are kept,
    builds that this itk-tag no longer has are removed.

    Raises OSError (read-only installation, full disk, ...): files already
    copied stay, each whole; the entry library is copied last.
    """
    root = plugins.plugin_path()
    expected = _plugin_files()
    written, unchanged = _copy_all({name: root / name for name in expected}, slicer.factories)
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


def uninstall_plugin(slicer: SlicerInstall) -> list[Path]:
    """Removes itk-tag's plugin files from ``slicer.factories``; returns them (relative paths).

    Removes the entry library first (Slicer then loads nothing of itk-tag),
    then the builds, then the ``itk-tag-builds`` folders left empty. Raises OSError.
    """
    removed = _ours(slicer.factories)
    _remove(slicer.factories, removed)
    return removed


@dataclass(frozen=True)
class SlicerStatus:
    """What ``itk-tag slicer status`` reports about one Slicer installation.

    ``module`` is the SliceOmaticTag module's state in ``module_folder``: "not
    installed", "same" (this itk-tag's files) or "different" (another itk-tag's,
    or incomplete). ``abi``/``namespace``/``itk_version`` are read from Slicer's
    ITKCommon library as the plugin's entry library reads its caller
    (:func:`itk_tag.plugins.describe_library`; Linux only). ``native`` is True
    when this itk-tag's native plugin can serve that Slicer (Linux, an ITK it
    serves); ``plugin`` is the plugin's state like ``module``'s ("not
    applicable" where it cannot), ``serves`` True when the installed plugin reads
    .tag files in that Slicer, ``reason`` why not.
    """

    home: str
    slicer_version: str
    slicer_revision: str
    system: str
    module_folder: str
    module: str
    factories: str
    itk_library: str
    itk_version: str
    abi: str
    namespace: str
    native: bool
    plugin: str
    serves: bool
    reason: str

    @property
    def ok(self) -> bool:
        """True when this itk-tag's module is installed, and its plugin too where the plugin can serve."""
        return self.module == "same" and (not self.native or (self.plugin == "same" and self.serves))

    def to_dict(self) -> dict[str, object]:
        """The status as a JSON-ready dict."""
        return {**asdict(self), "ok": self.ok}

    def report(self) -> str:
        """The status as aligned ``name: value`` lines."""
        states = {
            "same": "installed (this itk-tag's)",
            "different": "installed, but not this itk-tag's files (itk-tag slicer install replaces them)",
            "not installed": "not installed (itk-tag slicer install)",
            "not applicable": "not applicable (the module reads .tag in this Slicer)",
        }
        revision = f", revision {self.slicer_revision}" if self.slicer_revision else ""
        lines = [
            ("Slicer", f"{self.slicer_version}{revision}, {self.system}, {self.home}"),
            ("module", f"{states[self.module]}, {self.module_folder}"),
        ]
        if self.system == "linux":
            lines += [
                ("ITK", f"{self.itk_version or 'unknown'} ({self.itk_library or 'no libITKCommon found'})"),
                ("libstdc++ ABI", self.abi),
                ("ITK namespace", self.namespace),
                ("ITKFactories", self.factories),
            ]
        lines += [
            ("itk-tag plugin", states[self.plugin]),
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


def _has_plugin() -> bool:
    """True when this itk-tag has its native plugin folder (not a pure install)."""
    try:
        plugins.plugin_path()
    except FileNotFoundError:
        return False
    return True


def _unsupported(library: Path | None, host: plugins.HostLibrary) -> str:
    """Why this itk-tag's plugin cannot serve a Slicer whose ITKCommon is ``library`` ("" if it can)."""
    if not _has_plugin():
        return "this itk-tag has no native plugin (a pure install)"
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
    """Why this itk-tag's native plugin cannot serve ``slicer`` ("" when it can); the module serves all.

    Raises OSError when Slicer's ITKCommon library cannot be read as an ELF file.
    """
    if slicer.system != "linux":
        system = _SYSTEM_NAMES[slicer.system]
        return f"the native plugin is for Linux; Slicer on {system} reads .tag through the module"
    return _unsupported(*_host(slicer))


_SYSTEM_NAMES = {"linux": "Linux", "windows": "Windows", "macos": "macOS"}


def status(slicer: SlicerInstall) -> SlicerStatus:
    """Reads what is installed in ``slicer`` and what the plugin's entry library would see there.

    Raises OSError when Slicer's ITKCommon library (Linux) cannot be read as an ELF file.
    """
    module = _module_state(slicer.scripted_modules)
    library: Path | None = None
    host = plugins.HostLibrary("", "", "")
    if slicer.system == "linux":
        library, host = _host(slicer)
        reason = _unsupported(library, host)
    else:
        reason = unsupported_reason(slicer)
    native = reason == ""
    state = (
        _plugin_state(slicer.factories) if slicer.system == "linux" and _has_plugin() else "not applicable"
    )
    if native:
        reason = _not_installed(slicer.factories, host, state)
    return SlicerStatus(
        home=str(slicer.home),
        slicer_version=slicer.version,
        slicer_revision=slicer.revision,
        system=slicer.system,
        module_folder=str(slicer.scripted_modules),
        module=module,
        factories=str(slicer.factories),
        itk_library=str(library) if library else "",
        itk_version=host.itk_version,
        abi=host.abi,
        namespace=host.namespace,
        native=native,
        plugin=state,
        serves=native and reason == "",
        reason=reason,
    )
