"""Typed view of a ``.tag`` header and numpy-level reading, with neither ITK
Python nor SimpleITK needed.
"""

from __future__ import annotations

import os

import numpy as np

from . import _native
from .format.header import TagHeader

__all__ = ["TagHeader", "read_array", "read_header"]


def read_header(path: str | os.PathLike[str]) -> TagHeader:
    """Parses the header of ``path`` (the C++ parser) without reading voxels.

    Raises TagFileError (file name and problem) for a file that is not a valid
    ``.tag``, FileNotFoundError / IsADirectoryError for a path that is none.
    """
    fields = _native.read_header_fields(path)
    columns = fields["direction"]
    return TagHeader(
        path=os.fspath(path),
        size=tuple(int(v) for v in fields["size"]),
        dtype=np.dtype(np.uint16 if fields["component_type"] == "uint16" else np.uint8),
        origin=tuple(float(v) for v in fields["origin"]),
        spacing=tuple(float(v) for v in fields["spacing"]),
        direction=tuple(float(columns[col][row]) for row in range(3) for col in range(3)),
        header_size=int(fields["header_size"]),
        file_size=int(fields["file_size"]),
        keywords={key: value for key, value in fields["keywords"]},
    )


def read_array(path: str | os.PathLike[str]) -> tuple[np.ndarray, TagHeader]:
    """Reads ``path`` into a numpy array of shape (z, y, x) and its header.

    The voxels are read by ``itk::TagImageIO`` straight into the array: one
    copy of the image in memory, no Python-level parsing.
    """
    header = read_header(path)
    voxels = np.empty(header.shape, dtype=header.dtype)
    _native.read_voxels_into(path, voxels.ctypes.data, voxels.nbytes)
    return voxels, header
