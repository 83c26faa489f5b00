"""Reading what ``convert`` is given -- a ``.tag`` file or any ITK-readable label image -- as a mask."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dicom import Reference, itk_reason, read_reference
from .format import TagHeader, read_header
from .formats import format_of
from .geometry import Grid, Tolerance, grid_of
from .image_buffer import read_voxels
from .itk_paths import itk_path
from .keywords import carried_keywords
from .reference import GeometryCheck, ReferenceSpec, aligned, compare, resolve_reference
from .segnrrd import read_segmentation


@dataclass
class Mask:
    """A label map in memory: voxels (z, y, x), its grid, the keywords it carries."""

    voxels: np.ndarray
    grid: Grid
    keywords: dict[str, str]
    check: GeometryCheck | None = None
    """The comparison with the reference image, when the mask was put on its grid."""
    reference: Reference | None = None
    """The reference image, when the mask was put on its grid (slice k of voxels is its file or slice k)."""


def tag_grid(header: TagHeader) -> Grid:
    """Return the grid a tag header describes."""
    return Grid(header.size, header.origin, header.spacing, header.direction)


def load_tag(path: Path, reference: ReferenceSpec, tolerance: Tolerance, force: bool) -> Mask:
    """Load a ``.tag`` file as a mask, on its reference's grid when ``reference`` names one.

    The voxels are read into a SimpleITK image's buffer (:mod:`itk_tag.image_buffer`)
    and put on the reference grid in place, so the image is in memory once.
    """
    header = read_header(path)
    reference_path = resolve_reference(path, reference)
    if reference_path is None:
        return Mask(read_voxels(path, header), tag_grid(header), dict(header.keywords))
    # The geometry is checked before the voxels are read: a mismatch costs no read.
    image = read_reference(reference_path, header.size[2])
    check = compare(header, image, tolerance)
    voxels, grid = aligned(read_voxels(path, header), check, force)
    return Mask(voxels, grid, dict(header.keywords), check, image)


def label_voxels(voxels: np.ndarray, where: Path) -> np.ndarray:
    """Return ``voxels`` as uint8 (values up to 255) or uint16; ValueError if they are not labels."""
    if voxels.dtype.kind not in "uif":
        raise ValueError(f"{where}: {voxels.dtype} voxels are not label values")
    if voxels.size and (voxels.min() < 0 or voxels.max() > 65535):
        raise ValueError(f"{where}: voxel values {voxels.min()}..{voxels.max()} are outside 0..65535")
    if voxels.dtype.kind == "f" and not np.array_equal(voxels, np.round(voxels)):
        raise ValueError(f"{where}: voxel values are not whole numbers, so not labels")
    return voxels.astype(np.uint8 if voxels.size == 0 or voxels.max() <= 255 else np.uint16)


def load_label_image(path: Path) -> Mask:
    """Load any label image ITK reads (NRRD, NIfTI, MetaImage, a Slicer ``.seg.nrrd``) as a mask."""
    if format_of(path) == "seg.nrrd":
        voxels, grid, keywords = read_segmentation(path)
        return Mask(voxels, grid, keywords)
    import SimpleITK

    try:
        spelled = itk_path(path)
        image = SimpleITK.ReadImage(spelled)
    except RuntimeError as error:
        raise ValueError(f"{path}: {itk_reason(error).replace(spelled, str(path))}") from error
    if image.GetNumberOfComponentsPerPixel() != 1:
        components = image.GetNumberOfComponentsPerPixel()
        raise ValueError(f"{path}: {components} components per voxel, not a label map")
    if image.GetDimension() == 2:
        image = SimpleITK.JoinSeries(image)
    if image.GetDimension() != 3:
        raise ValueError(f"{path}: a {image.GetDimension()}D image, not 2D or 3D")
    keywords = carried_keywords({key: image.GetMetaData(key) for key in image.GetMetaDataKeys()})
    voxels = label_voxels(SimpleITK.GetArrayFromImage(image), path)
    return Mask(voxels, grid_of(image), keywords)


def load(path: Path, reference: ReferenceSpec, tolerance: Tolerance, force: bool) -> Mask:
    """Load the mask in ``path``: a ``.tag`` file (aligned to ``reference``) or a label image."""
    if format_of(path) == "tag":
        return load_tag(path, reference, tolerance, force)
    return load_label_image(path)
