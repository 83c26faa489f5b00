"""A ``.tag`` file as a SimpleITK image, on its own grid or on its reference image's grid."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .geometry import DEFAULT_TOLERANCE, Grid, Tolerance
from .image_buffer import image_of
from .reference import ReferenceSpec
from .sources import load_tag

if TYPE_CHECKING:
    import SimpleITK


def to_image(voxels: np.ndarray, grid: Grid, keywords: dict[str, str]) -> SimpleITK.Image:
    """Make a 3D SimpleITK image of ``voxels`` (z, y, x) on ``grid``, with ``keywords`` as metadata.

    When ``voxels`` is the buffer of a SimpleITK image (read by
    :func:`itk_tag.image_buffer.read_voxels`), that image is returned, not a copy:
    it shares its memory with ``voxels``.
    """
    import SimpleITK

    image = image_of(voxels)
    if image is None:
        image = SimpleITK.GetImageFromArray(voxels, isVector=False)
    for key in image.GetMetaDataKeys():
        image.EraseMetaData(key)
    grid.apply_to(image)
    for key, value in keywords.items():
        image.SetMetaData(key, value)
    return image


def read(
    path: str | os.PathLike[str],
    reference: ReferenceSpec = None,
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    force: bool = False,
) -> SimpleITK.Image:
    """Read a ``.tag`` file into a 3D ``SimpleITK.Image`` (uint8 for BYTE, uint16 for SHORT).

    The voxels come from the C++ reader (``itk::TagImageIO``) straight into the
    image's buffer: the image is in memory once, also on a reference grid whose
    slices run the other way (flipped in place). Every header keyword is a
    metadata entry (lower-case key, value as written).

    ``reference`` puts the mask on the exact grid of the image it was drawn on:

    * ``None`` or ``"none"``: the tag's own grid (4-decimal origin, spacing, direction);
    * ``"auto"``: the image beside the tag (``name.dcm`` for ``name.dcm.tag``;
      ``name`` -- a file or a DICOM series folder -- or ``name.dcm`` for ``name.tag``);
    * a path: that DICOM file, DICOM series folder, or ITK-readable image.

    With a reference, the grids are compared within ``tolerance`` and the
    image gets the reference's origin, spacing and direction exactly, so ITK
    filters accept the (image, mask) pair. Raises GeometryMismatchError when
    they differ (``force=True`` takes the reference's grid anyway, if the sizes
    match), ReferenceImageError when no reference is found, TagFileError for a
    broken tag.
    """
    mask = load_tag(Path(path), reference, tolerance, force)
    return to_image(mask.voxels, mask.grid, mask.keywords)
