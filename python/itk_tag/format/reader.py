"""Reading the voxels of a ``.tag`` file into numpy, one copy in memory."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from .errors import TagFileError, tag_error
from .header import TagHeader, open_tag, read_file_header


def _read_voxels(file: BinaryIO, header: TagHeader, out: np.ndarray, name: str) -> None:
    """Reads the voxels that follow the header of the open ``file`` straight into ``out``."""
    file.seek(header.header_size)
    view = memoryview(out.reshape(-1)).cast("B")
    done = 0
    while done < len(view):
        count = file.readinto(view[done:])
        if not count:
            raise tag_error(name, "the voxel data is shorter than the header announces")
        done += count
    # SHORT is little-endian in the file (FORMAT.md).
    if out.dtype.itemsize == 2 and sys.byteorder == "big":
        out.byteswap(inplace=True)


def read_voxels_into(path: str | os.PathLike[str], header: TagHeader, out: np.ndarray) -> None:
    """Reads all voxels of ``path`` into ``out``, a C-contiguous writable array of
    ``header.dtype`` holding ``header.data_size`` bytes (usually of shape (z, y, x)).

    The header is read again from the same open file, as the native reader does, so
    a file that changed since ``header`` was read is refused. Raises TagFileError
    with the C++ wording: ``truncated data: ...`` (the file is now too short for its
    header), ``changed while it was being read``, ``the voxel data is shorter than
    the header announces``; ValueError for an ``out`` that does not fit.
    """
    name = os.fspath(path)
    if (
        out.dtype != header.dtype
        or out.nbytes != header.data_size
        or not out.flags.c_contiguous
        or not out.flags.writeable
    ):
        raise ValueError(
            f"out must be a writeable C-contiguous {header.dtype} array of {header.data_size} bytes, "
            f"not {out.dtype} of {out.nbytes} bytes"
        )
    with open_tag(name) as file:
        now = read_file_header(file, name)
        if (now.header_size, now.data_size) != (header.header_size, header.data_size):
            raise TagFileError(f'sliceOmatic .tag file "{name}" changed while it was being read')
        _read_voxels(file, now, out, name)


def read_array(
    path: str | os.PathLike[str], allocate: Callable[[TagHeader], np.ndarray] | None = None
) -> tuple[np.ndarray, TagHeader]:
    """Reads ``path`` into a numpy array of shape (z, y, x) (uint8 for BYTE, uint16
    for SHORT) and its header, in pure Python, with one copy of the image in memory.

    The header is read once, from the same open file as the voxels. ``allocate``
    makes the array from the header (a C-contiguous writable array of
    ``header.shape`` and ``header.dtype``, e.g. a view of an image's buffer);
    ``numpy.empty`` by default. Raises TagFileError (file name and problem) for a
    file that is not a valid ``.tag``, FileNotFoundError / IsADirectoryError for a
    path that is no file, ValueError for an array from ``allocate`` that does not fit.
    """
    name = os.fspath(path)
    with open_tag(name) as file:
        header = read_file_header(file, name)
        if allocate is None:
            voxels = np.empty(header.shape, dtype=header.dtype)
        else:
            voxels = allocate(header)
            fits = voxels.shape == header.shape and voxels.dtype == header.dtype
            if not (fits and voxels.flags.c_contiguous and voxels.flags.writeable):
                raise ValueError(
                    f"allocate gave {voxels.dtype} {voxels.shape}, not {header.dtype} {header.shape}"
                )
        _read_voxels(file, header, voxels, name)
    return voxels, header
