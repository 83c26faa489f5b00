"""ctypes bindings to the C interface of the native builds and their entry library.

At run time Python uses them for three things only: the entry library's
description of a host's ITK library and its served rule (:mod:`.plugins`), and
the factory handed to ITK Python (:mod:`.itk_python`). ``itk_tag.read_header``
and ``read_array`` are pure Python (:mod:`itk_tag.format`); the C++ header
parser and voxel reader are called here by the conformance tests, the
differential fuzz run (fuzz/differential.py) and the benchmarks, which hold
the two implementations to each other. The libraries are the builds of the
plugin folder (one per libstdc++ ABI and ITK namespace, see
python/CMakeLists.txt); any of them serves here.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import stat
from pathlib import Path
from typing import Any

from ..format.errors import TagFileError

# The wheel installs the plugin folder at itk_tag/plugins (python/CMakeLists.txt).
PLUGIN_ROOT = Path(__file__).resolve().parents[1] / "plugins"
ENTRY_FILE_NAME = "libIOTagPlugin.so"
BUILD_FILE_NAME = "libIOTagImageIO.so"
# A name of our own: the folder may be shared (3D Slicer's ITKFactories).
BUILDS_FOLDER = "itk-tag-builds"
ABIS = ("new", "old")
NAMESPACES = ("itk", "slicer_itk")  # slicer_itk: 3D Slicer's renamed ITK


def _installed(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"itk-tag plugin missing: {path} (reinstall itk-tag)")
    return path


def entry_library() -> Path:
    """The plugin folder's entry library, the one ITK hosts load (``itkLoad``)."""
    return _installed(PLUGIN_ROOT / ENTRY_FILE_NAME)


def plugin_library(abi: str, namespace: str = "itk") -> Path:
    """The build of the plugin for the libstdc++ ``abi`` (new or old) and ITK ``namespace``."""
    if abi not in ABIS:
        raise ValueError(f"abi must be one of {ABIS}, not {abi!r}")
    return _installed(PLUGIN_ROOT / BUILDS_FOLDER / f"{abi}-{namespace}" / BUILD_FILE_NAME)


_P = ctypes.POINTER(ctypes.c_void_p)
# The C interface of a build (src/itkTagImageIO/itkTagCAPI.cxx): result type and argument types.
_BUILD_FUNCTIONS = {
    "itk_tag_create_factory": (ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]),
    "itk_tag_read_header": (ctypes.c_int, [ctypes.c_char_p, _P, _P]),
    "itk_tag_read_voxels": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_uint64, _P]),
    "itk_tag_parse_header": (
        ctypes.c_int,
        [ctypes.c_char_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_char_p, _P, _P],
    ),
    "itk_tag_free": (None, [ctypes.c_void_p]),
}


@functools.cache
def load(abi: str = "new") -> ctypes.CDLL:
    """Loads the plugin library for ``abi`` once and declares its C functions."""
    library = ctypes.CDLL(str(plugin_library(abi)))
    for name, (result, arguments) in _BUILD_FUNCTIONS.items():
        function = getattr(library, name)
        function.restype = result
        function.argtypes = arguments
    return library


def _take_string(library: ctypes.CDLL, pointer: ctypes.c_void_p) -> str:
    try:
        return ctypes.string_at(pointer.value).decode("utf-8", "replace")
    finally:
        library.itk_tag_free(pointer)


def _check_path(path: str | os.PathLike[str]) -> bytes:
    """Raises the usual OSError (missing, no permission, a folder) before C++ is asked."""
    path = os.fspath(path)
    if stat.S_ISDIR(os.stat(path).st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return os.fsencode(path)


def read_header_fields(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed header of ``path`` as the C++ parser reports it (a dict)."""
    import json  # here, not at the top: `import itk_tag` loads this module and must stay cheap

    encoded = _check_path(path)
    library = load()
    result, error = ctypes.c_void_p(), ctypes.c_void_p()
    if library.itk_tag_read_header(encoded, ctypes.byref(result), ctypes.byref(error)) != 0:
        raise TagFileError(_take_string(library, error))
    return json.loads(_take_string(library, result))


def parse_header_fields(data: bytes, file_size: int, name: str) -> dict[str, Any]:
    """The C++ parser's view (``TagHeader::FromFileStart``) of ``data``, the first bytes
    of a file of ``file_size`` bytes named ``name``: the dict of read_header_fields.
    For the conformance tests of the pure-Python parser (itk_tag.format).
    """
    import json

    library = load()
    result, error = ctypes.c_void_p(), ctypes.c_void_p()
    if (
        library.itk_tag_parse_header(
            data, len(data), file_size, os.fsencode(name), ctypes.byref(result), ctypes.byref(error)
        )
        != 0
    ):
        raise TagFileError(_take_string(library, error))
    return json.loads(_take_string(library, result))


def read_voxels_into(path: str | os.PathLike[str], address: int, size: int) -> None:
    """Reads all voxels of ``path`` into ``size`` bytes of memory at ``address``."""
    encoded = _check_path(path)
    library = load()
    error = ctypes.c_void_p()
    if library.itk_tag_read_voxels(encoded, ctypes.c_void_p(address), size, ctypes.byref(error)) != 0:
        raise TagFileError(_take_string(library, error))


@functools.cache
def _entry() -> ctypes.CDLL:
    """The entry library (plain C: loadable in any process) and its C functions."""
    entry = ctypes.CDLL(str(entry_library()))
    entry.itk_tag_describe_library.restype = ctypes.c_int
    entry.itk_tag_describe_library.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    entry.itk_tag_serves.restype = ctypes.c_int
    entry.itk_tag_serves.argtypes = [ctypes.c_char_p]
    return entry


def describe_library(path: str | os.PathLike[str]) -> tuple[str, str, str]:
    """(abi, namespace, itk version) of an ITK host library, as the entry library's
    itkLoad() tells them: abi "new", "old" or "unknown"; namespace "itk" or
    "slicer_itk"; version "itk version X.Y.Z" or "". Raises OSError for a file
    that cannot be read as a 64-bit ELF file.
    """
    text = ctypes.create_string_buffer(128)
    if _entry().itk_tag_describe_library(os.fsencode(path), text, len(text)) != 0:
        raise OSError(f"{os.fspath(path)}: not a readable 64-bit ELF file")
    abi, namespace, version = (text.value.decode() + " ").split(" ", 2)
    return abi, namespace, version.strip()


def serves(itk_version: str) -> bool:
    """True when the entry library serves a host of ``itk_version`` ("itk version
    X.Y.Z"), by the rule its itkLoad() applies.
    """
    return _entry().itk_tag_serves(itk_version.encode()) == 1
