"""A ``.tag`` file's voxels read straight into a SimpleITK image: one copy of the image in memory.

SimpleITK 2.5's Python API has no way to wrap an existing buffer in an image
(``GetImageFromArray`` copies) and only a read-only numpy view of an image's
buffer (``GetArrayViewFromImage``). So the image is made first and the voxels
land in its buffer:

* when SimpleITK has the itk-tag plugin (imported after itk-tag's import hook,
  which the startup hook arms), its ``ImageFileReader`` with the ``TagImageIO``
  reads the file: ITK allocates the buffer uninitialised and ``TagImageIO``
  advises huge pages on it, so this runs at ``numpy.fromfile``'s speed;
* otherwise ``SimpleITK.Image(size, type)`` allocates it, zero-filled (a pass
  over the memory: 0.4x that speed, bench/RESULTS.md), and itk-tag's
  pure-Python reader (:mod:`itk_tag.format`) fills it through a writable view.

The writable view (:func:`writable_voxels`) keeps its image alive, and
:func:`image_of` finds the image again, so that code working on numpy voxels
(flipping slices onto a reference grid) hands the same memory to SimpleITK.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from ..errors import itk_reason
from ..format import TagFileError, TagHeader, read_voxels_into
from . import plugins

if TYPE_CHECKING:
    import SimpleITK


class _ImageBuffer:
    """The whole buffer of a SimpleITK image as numpy sees it (``__array_interface__``).

    numpy keeps this object as the base of the arrays made from it, and it
    keeps the image: the voxels cannot outlive their memory.
    """

    def __init__(self, image: SimpleITK.Image) -> None:
        import SimpleITK

        self.image = image
        # Read-only by SimpleITK's choice, but the memory is this image's own
        # (GetArrayViewFromImage calls MakeUnique) and nothing else holds it.
        view = SimpleITK.GetArrayViewFromImage(image)
        self.__array_interface__: dict[str, Any] = {
            "version": 3,
            "shape": view.shape,
            "typestr": view.dtype.str,
            "data": (view.__array_interface__["data"][0], False),
        }


def writable_voxels(image: SimpleITK.Image) -> np.ndarray:
    """A writable numpy view (z, y, x) of a scalar SimpleITK image's buffer; it keeps the image alive."""
    return np.asarray(_ImageBuffer(image))


def image_of(voxels: np.ndarray) -> Optional[SimpleITK.Image]:
    """The SimpleITK image whose whole buffer ``voxels`` is (from :func:`writable_voxels`), else None."""
    base = voxels.base
    if not isinstance(base, _ImageBuffer):
        return None
    start = base.__array_interface__["data"][0]
    whole = voxels.shape == base.__array_interface__["shape"] and _address(voxels) == start
    return base.image if whole and voxels.flags.c_contiguous else None


def _address(voxels: np.ndarray) -> int:
    return int(voxels.__array_interface__["data"][0])


@functools.cache
def _simpleitk_has_plugin() -> bool:
    import SimpleITK

    return plugins.simpleitk_reads_tag(SimpleITK)


def read_voxels(path: str | os.PathLike[str], header: TagHeader) -> np.ndarray:
    """Read the voxels of the tag at ``path`` (whose header is ``header``) into a new SimpleITK image.

    Returns the writable view (z, y, x) of that image's buffer (see :func:`image_of`).
    Raises TagFileError when the file is broken or changed since ``header`` was read.
    """
    import SimpleITK

    if _simpleitk_has_plugin():
        reader = SimpleITK.ImageFileReader()
        reader.SetImageIO("TagImageIO")
        reader.SetFileName(os.fspath(path))
        try:
            image = reader.Execute()
        except RuntimeError as error:
            raise TagFileError(f"{os.fspath(path)}: {itk_reason(error)}") from error
        voxels = writable_voxels(image)
        if voxels.shape != header.shape or voxels.dtype != header.dtype:
            message = f'sliceOmatic .tag file "{os.fspath(path)}" changed while it was being read'
            raise TagFileError(message)
        return voxels
    voxels = new_voxels(header)
    read_voxels_into(path, header, voxels)
    return voxels


def new_voxels(header: TagHeader) -> np.ndarray:
    """The writable view (z, y, x) of a new, zero-filled SimpleITK image of ``header``'s size and type."""
    import SimpleITK

    pixel = SimpleITK.sitkUInt16 if header.dtype == np.uint16 else SimpleITK.sitkUInt8
    return writable_voxels(SimpleITK.Image(header.size, pixel))
