"""ctypes bindings to the C interface of the itk-tag plugin library.

The header parser and the voxel reader live once, in C++ (``itk::TagHeader``
and ``itk::TagImageIO``); this module only calls them. The plugin libraries
are the ones ITK hosts load, built once per libstdc++ ABI; either serves here.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import stat
from pathlib import Path
from typing import Any

PLUGIN_ROOT = Path(__file__).resolve().parent / "plugins"
PLUGIN_FILE_NAME = "libIOTagPlugin.so"
ABIS = ("new", "old")


class TagFileError(ValueError, RuntimeError):
    """A file is not a valid sliceOmatic ``.tag`` file (the message names the
    file and the problem). It is both a ValueError and a RuntimeError, the
    exception type ITK Python and SimpleITK raise for reader errors.
    """


def plugin_library(abi: str) -> Path:
    """Path of the plugin library built for the libstdc++ ``abi`` (new or old)."""
    if abi not in ABIS:
        raise ValueError(f"abi must be one of {ABIS}, not {abi!r}")
    path = PLUGIN_ROOT / abi / PLUGIN_FILE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"itk-tag plugin missing: {path} (reinstall itk-tag)")
    return path


@functools.cache
def load(abi: str = "new") -> ctypes.CDLL:
    """Loads the plugin library for ``abi`` once and declares its C functions."""
    library = ctypes.CDLL(str(plugin_library(abi)))
    library.itkLoad.restype = ctypes.c_void_p
    library.itkLoad.argtypes = []
    library.itk_tag_read_header.restype = ctypes.c_int
    library.itk_tag_read_header.argtypes = [
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_void_p),
    ]
    library.itk_tag_read_voxels.restype = ctypes.c_int
    library.itk_tag_read_voxels.argtypes = [
        ctypes.c_char_p,
        ctypes.c_void_p,
        ctypes.c_uint64,
        ctypes.POINTER(ctypes.c_void_p),
    ]
    library.itk_tag_free.restype = None
    library.itk_tag_free.argtypes = [ctypes.c_void_p]
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


def read_voxels_into(path: str | os.PathLike[str], address: int, size: int) -> None:
    """Reads all voxels of ``path`` into ``size`` bytes of memory at ``address``."""
    encoded = _check_path(path)
    library = load()
    error = ctypes.c_void_p()
    if library.itk_tag_read_voxels(encoded, ctypes.c_void_p(address), size, ctypes.byref(error)) != 0:
        raise TagFileError(_take_string(library, error))
