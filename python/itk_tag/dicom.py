"""The image a tag was drawn on: finding it beside the tag, and reading its geometry.

Finding and comparing read only the geometry (``ReadImageInformation``), so a
JPEG-compressed DICOM costs no decoding; :func:`read_reference_image` reads the
pixels when they are measured. The grid is the one SimpleITK gives the image
when it reads it (``SimpleITK.ReadImage`` of the file, or of the series file
names), because that is the image a mask must line up with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import SimpleITK

from .geometry import Grid, grid_of, without_negative_spacing

DICOM_SUFFIXES = (".dcm", ".DCM")


class ReferenceImageError(ValueError):
    """No usable reference image for a tag (the message says what was looked for)."""


@dataclass(frozen=True)
class Reference:
    """The geometry of a reference image and where each of its slices lies."""

    path: Path
    grid: Grid
    """The grid of the image as SimpleITK reads it."""
    slice_positions: np.ndarray
    """(z, 3): the LPS position of voxel (0, 0) of each slice, in the image's slice order."""
    files: tuple[Path, ...]
    """The files of the image in its slice order: one for a file, the series' files for a folder."""


def reference_candidates(tag: Path) -> list[Path]:
    """List where the image of ``tag`` may be, in the order they are tried.

    ``name.dcm.tag`` -> ``name.dcm``; ``name.tag`` -> ``name`` (a file or a
    series folder), ``name.dcm``.
    """
    base = tag.with_suffix("")
    if base.suffix in DICOM_SUFFIXES:
        return [base]
    return [base] + [base.with_name(base.name + suffix) for suffix in DICOM_SUFFIXES]


def find_reference(tag: Path) -> Path:
    """Find the image beside ``tag`` that it was drawn on; ReferenceImageError if there is none."""
    for candidate in reference_candidates(tag):
        if candidate.exists():
            return candidate
    looked = ", ".join(candidate.name for candidate in reference_candidates(tag))
    raise ReferenceImageError(f"no reference image found beside the tag (looked for {looked})")


def _file_information(path: str) -> SimpleITK.ImageFileReader:
    import SimpleITK

    reader = SimpleITK.ImageFileReader()
    reader.SetFileName(path)
    reader.ReadImageInformation()
    return reader


def read_file_reference(path: Path) -> Reference:
    """Read the geometry of one image file (a DICOM slice, a multi-frame DICOM, any ITK image)."""
    reader = _file_information(os.fspath(path))
    if reader.GetDimension() == 2:
        # A 2D image is one slice: ITK reads it with the slice axis left out.
        size = (*reader.GetSize(), 1)
        origin = (*reader.GetOrigin(), 0.0)
        spacing = (*reader.GetSpacing(), 1.0)
        d = reader.GetDirection()
        direction = (d[0], d[1], 0.0, d[2], d[3], 0.0, 0.0, 0.0, 1.0)
        grid = Grid(size, origin, spacing, direction)  # type: ignore[arg-type]
    else:
        grid = grid_of(reader)
    grid = without_negative_spacing(grid)
    axes = grid.axes
    steps = np.arange(grid.size[2])[:, None] * grid.spacing[2] * axes[:, 2][None, :]
    return Reference(path, grid, np.asarray(grid.origin)[None, :] + steps, (path,))


def series_file_names(folder: Path, slices: int | None = None) -> tuple[str, ...]:
    """List the files of the DICOM series in ``folder``, in the order ITK reads them.

    With several series in the folder, the one with ``slices`` files is taken;
    ReferenceImageError if that does not pick exactly one.
    """
    import SimpleITK

    folder_name = os.fspath(folder)
    series = SimpleITK.ImageSeriesReader.GetGDCMSeriesIDs(folder_name)
    if not series:
        raise ReferenceImageError(f"{folder}: no DICOM series in this folder")
    names = {uid: SimpleITK.ImageSeriesReader.GetGDCMSeriesFileNames(folder_name, uid) for uid in series}
    if len(names) == 1:
        return next(iter(names.values()))
    fitting = [files for files in names.values() if slices is None or len(files) == slices]
    if len(fitting) != 1:
        counts = ", ".join(f"{uid} ({len(files)} files)" for uid, files in names.items())
        raise ReferenceImageError(f"{folder}: {len(names)} DICOM series, cannot tell which one: {counts}")
    return fitting[0]


def read_series_reference(folder: Path, slices: int | None = None) -> Reference:
    """Read the geometry of the DICOM series in ``folder`` as ``SimpleITK.ReadImage(file_names)`` builds it.

    ITK's ImageSeriesReader takes origin, in-plane spacing and direction from
    the first file as its ImageIO reports them, and the slice spacing from the
    distance between the first and last slices.
    """
    files = series_file_names(folder, slices)
    readers = [_file_information(name) for name in files]
    positions = np.array([reader.GetOrigin()[:3] for reader in readers], dtype=float)
    first = readers[0]
    if first.GetDimension() != 3 or first.GetSize()[2] != 1:
        raise ReferenceImageError(f"{files[0]}: a series file holds {first.GetSize()}, not one 2D slice")
    span = float(np.linalg.norm(positions[-1] - positions[0]))
    slice_spacing = span / (len(files) - 1) if len(files) > 1 and span > 0 else 1.0
    spacing = first.GetSpacing()
    grid = Grid(
        size=(first.GetSize()[0], first.GetSize()[1], len(files)),
        origin=tuple(float(v) for v in first.GetOrigin()),  # type: ignore[arg-type]
        spacing=(abs(spacing[0]), abs(spacing[1]), slice_spacing),
        direction=tuple(float(v) for v in first.GetDirection()),
    )
    return Reference(folder, grid, positions, tuple(Path(name) for name in files))


def read_reference(path: Path, slices: int | None = None) -> Reference:
    """Read the geometry of the image at ``path``: a file, or a folder holding one DICOM series."""
    if path.is_dir():
        return read_series_reference(path, slices)
    if not path.exists():
        raise ReferenceImageError(f"{path}: no such reference image")
    try:
        return read_file_reference(path)
    except RuntimeError as error:
        raise ReferenceImageError(f"{path}: cannot read the reference image: {itk_reason(error)}") from error


def read_reference_image(reference: Reference) -> SimpleITK.Image:
    """Read the pixels of a reference image as a 3D ``SimpleITK.Image`` on its grid.

    For a CT, the values are Hounsfield units: ITK's GDCMImageIO applies
    RescaleSlope (0028,1053) and RescaleIntercept (0028,1052). Raises
    ReferenceImageError when the image cannot be read.
    """
    import SimpleITK

    names = [os.fspath(name) for name in reference.files]
    try:
        image = SimpleITK.ReadImage(names if len(names) > 1 else names[0])
    except RuntimeError as error:
        raise ReferenceImageError(
            f"{reference.path}: cannot read the reference image: {itk_reason(error)}"
        ) from error
    if image.GetDimension() == 2:
        image = SimpleITK.JoinSeries(image)
    return image


def itk_reason(error: BaseException) -> str:
    """Return the useful last part of an ITK exception message (SimpleITK prefixes file and line)."""
    text = str(error).strip()
    for marker in ("ITK ERROR: ", "itk::ERROR: ", "sitk::ERROR: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
            source, separator, rest = text.partition(": ")
            if separator and source.endswith(")"):  # "TagImageIO(0x55d1...): message"
                text = rest
    return " ".join(text.split())
