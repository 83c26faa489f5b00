"""The image a tag was drawn on: finding it, opening it once, and whether the tag lies on its grid.

The rule and its tolerance (``Grid``, ``Tolerance``, the comparisons) are in
``format/grid.py``, shared with the 3D Slicer module; this module finds and
opens the reference image and decides what a mismatch means for a job.

The grid of a reference is the one SimpleITK gives the image when it reads
it (``SimpleITK.ReadImage`` of the file, or of the series file names), because
that is the image a mask must line up with. A :class:`Reference` reads what
is asked of it once: the geometry (``ReadImageInformation``, no pixel
decoding) when opened, the pixels (measure) and the DICOM datasets (DICOM
SEG) on first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..errors import GeometryMismatchError, ReferenceImageError, itk_reason
from ..format import TagHeader
from ..format.grid import (
    DEFAULT_TOLERANCE,
    GROSS,
    Comparison,
    Grid,
    Tolerance,
    compare_grids,
    describe,
    is_gross,
    tag_grid,
)

if TYPE_CHECKING:
    import pydicom
    import SimpleITK

ReferenceSpec = Union[str, "os.PathLike[str]", None]
"""``None`` or ``"none"`` (the tag's own grid), ``"auto"`` (the image beside the tag), or a path."""

DICOM_SUFFIXES = (".dcm", ".DCM")

__all__ = [
    "DEFAULT_TOLERANCE",
    "GROSS",
    "Comparison",
    "GeometryCheck",
    "Grid",
    "Reference",
    "ReferenceSpec",
    "Tolerance",
    "compare",
    "describe",
    "flip_slices",
    "grid_of",
    "is_dicom",
    "read_information",
    "require_alignment",
    "series_file_names",
    "tag_grid",
]


def grid_of(image: SimpleITK.Image | SimpleITK.ImageFileReader) -> Grid:
    """Return the grid of a SimpleITK image or of a file whose information a reader read.

    A 2D image is one slice (ITK reads it with the slice axis left out): it
    gets z size 1, z spacing 1 and the slice axis +z. A negative spacing (GDCM
    reports one for a negative SpacingBetweenSlices) is made positive and its
    axis flipped, as ITK's ImageFileReader does with the image in memory.
    """
    size, origin, spacing, d = image.GetSize(), image.GetOrigin(), image.GetSpacing(), image.GetDirection()
    if len(size) == 2:
        size, origin, spacing = (*size, 1), (*origin, 0.0), (*spacing, 1.0)
        d = (d[0], d[1], 0.0, d[2], d[3], 0.0, 0.0, 0.0, 1.0)
    if len(size) != 3:
        raise ValueError(f"expected a 2D or 3D image, not {len(size)}D")
    axes = np.asarray(d, dtype=float).reshape(3, 3).copy()
    spacing = list(spacing)
    for axis, value in enumerate(spacing):
        if value < 0:
            spacing[axis] = -value
            axes[:, axis] = 0.0 - axes[:, axis]  # 0.0 - x: no -0.0 in reports
    return Grid(
        tuple(int(v) for v in size),  # type: ignore[arg-type]
        tuple(float(v) for v in origin),  # type: ignore[arg-type]
        tuple(float(v) for v in spacing),  # type: ignore[arg-type]
        tuple(float(v) for v in axes.ravel()),
    )


def reference_candidates(tag: Path) -> list[Path]:
    """List where the image of ``tag`` may be, in the order they are tried.

    ``name.dcm.tag`` -> ``name.dcm``; ``name.tag`` -> ``name`` (a file or a
    series folder), ``name.dcm``.
    """
    base = tag.with_suffix("")
    if base.suffix in DICOM_SUFFIXES:
        return [base]
    return [base] + [base.with_name(base.name + suffix) for suffix in DICOM_SUFFIXES]


def is_dicom(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a DICOM Part 10 file: 128-byte preamble, then ``DICM`` (PS3.10 7.1)."""
    try:
        with open(path, "rb") as file:
            return file.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _reader(path: str, dicom: bool | None = None) -> SimpleITK.ImageFileReader:
    """A SimpleITK reader of ``path``, told GDCMImageIO when the file is DICOM Part 10.

    Left to choose, ITK asks each ImageIO whether it can read the file, and
    GDCMImageIO answers by parsing the whole header, which it parses again to
    read it: a DICOM file (128-byte preamble, then ``DICM``: PS3.10 7.1) is
    handed to it directly, which takes 40 % off opening a CT slice
    (bench/RESULTS.md, "What changed after run F") and gives the same image.
    Other files are left to ITK's choice. The check is pydicom.misc.is_dicom's,
    written here: importing pydicom costs each worker process 0.2 to 0.4 s.
    """
    import SimpleITK

    reader = SimpleITK.ImageFileReader()
    reader.SetFileName(path)
    # ``dicom``: known already (a folder's index); an unreadable file: ITK says what is wrong with it.
    if is_dicom(path) if dicom is None else dicom:
        reader.SetImageIO("GDCMImageIO")
    return reader


def read_information(path: str, dicom: bool | None = None) -> SimpleITK.ImageFileReader:
    """A reader of ``path`` that has read its header (no pixels): GDCMImageIO for DICOM (see _reader)."""
    reader = _reader(path, dicom)
    reader.ReadImageInformation()
    return reader


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


def _series_geometry(folder: Path, slices: int | None) -> tuple[Grid, np.ndarray, tuple[Path, ...]]:
    """The grid ``SimpleITK.ReadImage(file_names)`` builds for the series in ``folder``."""
    return _files_geometry(series_file_names(folder, slices))


def _files_geometry(files: Sequence[str]) -> tuple[Grid, np.ndarray, tuple[Path, ...]]:
    """The grid ``SimpleITK.ReadImage(files)`` builds for 2D slices read in this order.

    ITK's ImageSeriesReader takes origin, in-plane spacing and direction from
    the first file as its ImageIO reports them, and the slice spacing from the
    distance between the first and last slices.
    """
    try:
        readers = [read_information(name) for name in files]
    except RuntimeError as error:
        raise ReferenceImageError(f"cannot read the reference image: {itk_reason(error)}") from error
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
    return grid, positions, tuple(Path(name) for name in files)


@dataclass
class Reference:
    """A reference image, opened once: geometry now, pixels and DICOM datasets on first use.

    Make one with :meth:`open`. Not shared between processes: each job opens its own.
    """

    path: Path
    grid: Grid
    """The grid of the image as SimpleITK reads it."""
    slice_positions: np.ndarray
    """(z, 3): the LPS position of voxel (0, 0) of each slice, in the image's slice order."""
    files: tuple[Path, ...]
    """The files of the image in its slice order: one for a file, the series' files for a folder."""
    _image: SimpleITK.Image | None = field(default=None, repr=False)
    _datasets: list[pydicom.Dataset] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: Path, slices: int | None = None, pixels: bool = False) -> Reference:
        """Open the image at ``path``: a file, or a folder holding one DICOM series.

        ``slices`` picks a series among several (the tag's z size). ``pixels``
        reads the pixels now, in the same read as the geometry (a measure needs
        them; a conversion does not). Raises ReferenceImageError.
        """
        if path.is_dir():
            grid, positions, files = _series_geometry(path, slices)
            return cls(path, grid, positions, files)
        if not path.exists():
            raise ReferenceImageError(f"{path}: no such reference image")
        reference = cls(path, Grid((0, 0, 0), (0.0,) * 3, (1.0,) * 3, ()), np.empty((0, 3)), (path,))
        try:
            source = reference.image() if pixels else read_information(os.fspath(path))
        except RuntimeError as error:
            raise ReferenceImageError(
                f"{path}: cannot read the reference image: {itk_reason(error)}"
            ) from error
        reference.grid = grid_of(source)
        reference.slice_positions = reference.grid.slice_positions()
        return reference

    @classmethod
    def of_files(cls, files: Sequence[Path]) -> Reference:
        """Open the 2D DICOM slices ``files`` as one image, in this order (a series' slices a tag spans).

        Raises ReferenceImageError.
        """
        grid, positions, paths = _files_geometry([os.fspath(name) for name in files])
        return cls(paths[0].parent, grid, positions, paths)

    def image(self) -> SimpleITK.Image:
        """The pixels as a 3D ``SimpleITK.Image`` on the grid (read on first call).

        For a CT, the values are Hounsfield units: ITK's GDCMImageIO applies
        RescaleSlope (0028,1053) and RescaleIntercept (0028,1052). Raises
        ReferenceImageError when the image cannot be read.
        """
        if self._image is None:
            import SimpleITK

            names = [os.fspath(name) for name in self.files]
            try:
                image = SimpleITK.ReadImage(names) if len(names) > 1 else _reader(names[0]).Execute()
            except RuntimeError as error:
                raise ReferenceImageError(
                    f"{self.path}: cannot read the reference image: {itk_reason(error)}"
                ) from error
            self._image = SimpleITK.JoinSeries(image) if image.GetDimension() == 2 else image
        return self._image

    def metadata(self, keys: Sequence[str]) -> dict[str, str]:
        """The DICOM attributes ``keys`` (``"gggg|eeee"``) of the first file, as GDCM reads them.

        Values are stripped of DICOM's padding; absent (or non-DICOM)
        attributes are left out. From the image read for its pixels when it
        kept them, else from the first file's header (no pixel decoding).
        """
        source: Any = self._image
        if source is None or not any(source.HasMetaDataKey(key) for key in keys):
            try:
                source = read_information(os.fspath(self.files[0]))
            except RuntimeError:
                return {}
        return {key: source.GetMetaData(key).strip() for key in keys if source.HasMetaDataKey(key)}

    def datasets(self) -> list[pydicom.Dataset]:
        """The files' DICOM datasets, without pixel data (read on first call); ValueError if not DICOM."""
        if self._datasets is None:
            import pydicom

            datasets = []
            for path in self.files:
                try:
                    datasets.append(pydicom.dcmread(path, stop_before_pixels=True))
                except pydicom.errors.InvalidDicomError:
                    raise ValueError(
                        f"{path}: not a DICOM file; a DICOM SEG references DICOM images (--reference)"
                    ) from None
            self._datasets = datasets
        return self._datasets


@dataclass(frozen=True)
class GeometryCheck:
    """The outcome of comparing a tag's grid with its reference image's grid."""

    tag: Path
    reference: Path
    comparisons: list[Comparison]
    reversed_slices: bool
    """The reference's slices run against dir_h x dir_v: the mask is flipped along z to stay in place."""
    grid: Grid
    """The reference's grid: the one an aligned mask is written on."""
    notes: list[str] = field(default_factory=list)
    gross: bool = False
    """The grids differ by far more than rounding (see GROSS): the tag was drawn on another image."""

    @property
    def size_matches(self) -> bool:
        """True when the tag and the reference have the same number of voxels along every axis."""
        return all(c.ok for c in self.comparisons if c.name == "size")

    @property
    def ok(self) -> bool:
        """True when every compared quantity is within its tolerance."""
        return all(c.ok for c in self.comparisons)

    def differences(self) -> list[str]:
        """One line per quantity out of tolerance."""
        return [describe(c) for c in self.comparisons if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        """Describe the check as a JSON-ready dict."""
        comparisons = [dict(asdict(c), ok=c.ok) for c in self.comparisons]
        return {
            "tag": os.fspath(self.tag),
            "reference": os.fspath(self.reference),
            "ok": self.ok,
            "reversed_slices": self.reversed_slices,
            "comparisons": comparisons,
            "notes": list(self.notes),
            "grid": asdict(self.grid),
        }

    def report(self) -> str:
        """Describe the check for a person, one compared quantity per line."""
        verdict = "same grid" if self.ok else "DIFFERENT grids"
        lines = [f"{self.tag} vs {self.reference}: {verdict}"]
        lines += [f"  {'ok  ' if c.ok else 'FAIL'} {describe(c)}" for c in self.comparisons]
        lines += [f"  note {note}" for note in self.notes]
        return "\n".join(lines)


def compare(
    header: TagHeader, reference: Reference, tolerance: Tolerance = DEFAULT_TOLERANCE
) -> GeometryCheck:
    """Compare the grid of a tag header with that of its reference image."""
    comparisons, reversed_slices, notes = compare_grids(
        header, reference.grid, reference.slice_positions, tolerance
    )
    return GeometryCheck(
        Path(header.path),
        reference.path,
        comparisons,
        reversed_slices,
        reference.grid,
        notes,
        is_gross(comparisons),
    )


def flip_slices(voxels: np.ndarray) -> None:
    """Reverse the slice order of ``voxels`` (z, y, x) in place, with one slice of extra memory.

    (``voxels[::-1].copy()`` would hold the volume twice.)
    """
    depth = voxels.shape[0]
    spare = np.empty_like(voxels[0])
    for near in range(depth // 2):
        far = depth - 1 - near
        spare[...] = voxels[near]
        voxels[near] = voxels[far]
        voxels[far] = spare


def require_alignment(check: GeometryCheck, force: bool = False) -> None:
    """Raise GeometryMismatchError unless a tag may be put on its reference's grid after ``check``.

    The grids must agree within tolerance (or ``force``), and always in size
    (the voxels would not fit). A gross difference (see GROSS) says the tag
    was drawn on another image, and does not suggest --force.
    """
    if not check.size_matches:
        raise GeometryMismatchError("; ".join(check.differences()))
    if check.ok or force:
        return
    differences = "; ".join(check.differences())
    if check.gross:
        raise GeometryMismatchError(
            f"not drawn on {check.reference}: {differences}. That is far more than the rounding of a .tag "
            "header: the reference is another scan (another patient's or another series' image); "
            "give the image this tag was drawn on"
        )
    raise GeometryMismatchError(
        f"not on the grid of {check.reference}: {differences} (--force puts it on that grid anyway)"
    )
