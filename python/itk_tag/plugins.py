"""The itk-tag plugin folder, for ITK programs that load ITK_AUTOLOAD_PATH."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import _native


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


def plugin_path() -> Path:
    """Folder to put on ITK_AUTOLOAD_PATH so that ITK programs read .tag files.

    The same folder serves every host: its entry library picks the build that
    matches the calling program's libstdc++ ABI and ITK namespace.
    Raises FileNotFoundError when the installation is incomplete.
    """
    return _native.entry_library().parent
