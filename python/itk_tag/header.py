"""Typed view of a ``.tag`` header and numpy-level reading, with neither ITK
Python nor SimpleITK needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .hosts import native as _native

Vector3 = tuple[float, float, float]


@dataclass(frozen=True)
class TagHeader:
    """The header of a sliceOmatic ``.tag`` file, as parsed by ``itk::TagHeader``.

    Geometry is in ITK's LPS convention, like DICOM. ``direction`` is the 3x3
    direction matrix flattened row by row (as SimpleITK's ``GetDirection()``);
    its columns are dir_h, dir_v and dir_h x dir_v, normalised.
    """

    path: str
    size: tuple[int, int, int]
    """Voxels along a row (x), a column (y), and number of slices (z)."""
    dtype: np.dtype
    """uint8 for ``type:BYTE``, uint16 for ``type:SHORT``."""
    origin: Vector3
    spacing: Vector3
    direction: tuple[float, ...]
    header_size: int
    """Bytes before the voxel data, the form feed included."""
    file_size: int
    keywords: dict[str, str] = field(default_factory=dict)
    """Every header keyword (lower case) and its value as written, in file order."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """Numpy shape of the voxels: (z, y, x)."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def data_size(self) -> int:
        """Bytes of voxel data the header announces."""
        return int(np.prod(self.size)) * self.dtype.itemsize


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
