"""The itk-tag plugin folder, and the one rule for Python hosts: which native build serves a host's ITK.

:func:`served_build` decides before a host loads (ITK_AUTOLOAD_PATH, ITK
Python's factory registration); :func:`simpleitk_reads_tag` tells what an
imported SimpleITK got.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Optional

from . import native as _native

NATIVE_VARIABLE = "ITK_TAG_NATIVE"


@dataclass(frozen=True)
class HostLibrary:
    """What the plugin's entry library sees in an ITK host library (see
    src/itkTagImageIO/itkTagPluginEntry.c): the libstdc++ string ABI it imports
    (``"new"``, ``"old"`` or ``"unknown"``), its ITK namespace (``"itk"`` or
    3D Slicer's ``"slicer_itk"``) and its ITK_SOURCE_VERSION (``"itk version
    5.4.8"``, or ``""`` when the library holds none).
    """

    abi: str
    namespace: str
    itk_version: str


def describe_library(path: str | os.PathLike[str]) -> HostLibrary:
    """Describes an ITK host library as the plugin's entry point will; OSError if unreadable."""
    return HostLibrary(*_native.describe_library(path))


def serves(itk_version: str) -> bool:
    """True when the plugin serves a host whose ITK_SOURCE_VERSION is ``itk_version``."""
    return _native.serves(itk_version)


@dataclass(frozen=True)
class Verdict:
    """Which native build, if any, serves a host library, and why."""

    build: Optional[str]
    """``"<abi>-<namespace>"`` (a folder of ``itk-tag-builds``), or None: the host gets the Python path."""
    reason: str
    host: Optional[HostLibrary] = None
    """The host library as :func:`describe_library` told it, when it was read (no caller reads it again)."""


def native_allowed() -> bool:
    """False when ``ITK_TAG_NATIVE=0``: no native build is handed to any host in this process."""
    return os.environ.get(NATIVE_VARIABLE, "") != "0"


def served_build(library: str | os.PathLike[str]) -> Verdict:
    """The build that serves the ITK host whose ITK lives in ``library`` (SimpleITK's
    ``_SimpleITK*.so``, ITK Python's ``_ITKCommonPython*.so``), by the rule the
    entry library's itkLoad() applies to every other host: its ITK version is
    served (:func:`serves`), its libstdc++ ABI is known, and the build for that
    ABI and ITK namespace is installed. Never raises: a library that cannot be
    read, a missing build or a non-ELF platform is a Verdict without a build.
    """
    if not native_allowed():
        return Verdict(None, f"{NATIVE_VARIABLE}=0 is set")
    try:
        host = describe_library(library)
    except OSError as error:  # no entry library (a pure install, not Linux) or an unreadable host
        return Verdict(None, f"no native build can be chosen: {error}")
    if not serves(host.itk_version):
        tested = "is not one the native builds were tested against (ITK 5.2 to 5.4)"
        return Verdict(None, f"its {found_version(host)} {tested}", host)
    if host.abi not in _native.ABIS:
        return Verdict(None, "its libstdc++ ABI cannot be told", host)
    try:
        _native.plugin_library(host.abi, host.namespace)
    except (OSError, ValueError) as error:
        return Verdict(None, str(error), host)
    build = f"{host.abi}-{host.namespace}"
    return Verdict(
        build, f"{found_version(host)}, libstdc++ ABI {host.abi}, namespace {host.namespace}", host
    )


def found_version(host: HostLibrary) -> str:
    """``"ITK 5.4.8"`` from a host's version string."""
    if not host.itk_version:
        return "ITK of unknown version"
    return "ITK " + host.itk_version.replace("itk version ", "")


def plugin_path() -> Path:
    """Folder to put on ITK_AUTOLOAD_PATH so that ITK programs read .tag files.

    The same folder serves every host: its entry library picks the build that
    matches the calling program's libstdc++ ABI and ITK namespace.
    Raises FileNotFoundError when the installation is incomplete.
    """
    return _native.entry_library().parent


def simpleitk_reads_tag(simpleitk: ModuleType) -> bool:
    """True when the imported SimpleITK has the native TagImageIO registered."""
    return "TagImageIO" in simpleitk.ImageFileReader().GetRegisteredImageIOs()
