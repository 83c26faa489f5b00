"""Which image each tag was drawn on: ``--reference auto`` and ``--pairs PAIRS.csv``.

``auto`` takes the image named after the tag when there is one
(:func:`~itk_tag.batch.reference.reference_candidates`); else it looks at the
DICOM images in the tag's folder and takes the one the tag lies on (same
origin, in-plane spacing, row/column directions and size, within the geometry
check's :class:`~itk_tag.batch.reference.Tolerance`): the only CT slice of a
patient folder, or the L3 slice of the series the tag was drawn on. A tag of
z slices takes the z slices of one series at its slice positions.

Only headers are read (``ReadImageInformation``: no pixel decoding), once per
folder and process: the index of a folder is kept (:data:`_INDEXES`) while its
files are unchanged, so the tags of a 500-slice series
folder share one reading of its headers (bench/pairing.py).

``--pairs`` is a CSV file with columns ``tag`` and ``reference`` (paths
relative to the CSV file's folder, or absolute), for layouts where the CT is
not beside its mask (e.g. a parallel ``dicom/`` tree).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..errors import ReferenceImageError, UsageError, itk_reason
from ..format import TagHeader, read_header
from .reference import (
    DEFAULT_TOLERANCE,
    GeometryCheck,
    Grid,
    Reference,
    ReferenceSpec,
    Tolerance,
    compare,
    grid_of,
    is_dicom,
    read_information,
    reference_candidates,
    tag_grid,
)
from .user_csv import read_user_csv


class DuplicateReferencesError(ReferenceImageError):
    """Several images of a folder lie on the tag's grid: which one it was drawn on cannot be told."""


Located = Union[Path, tuple[Path, ...], None]
"""Where a tag's reference is: a file or series folder, the files of its slices (in the tag's slice
order), or None (the tag's own grid)."""

_LISTED = 5
"""How many looked-at files a failure's reason names."""

_KEPT_FOLDERS = 64
"""Folder indexes a process keeps (the least recently used goes first)."""

SERIES_UID = "0020|000e"


@dataclass(frozen=True)
class Entry:
    """One DICOM image of a folder, as its header places it."""

    path: Path
    grid: Optional[Grid]
    """None when the header could not be read (``problem`` says why)."""
    series: str = ""
    """SeriesInstanceUID (0020,000E), "" when absent."""
    problem: str = ""


@dataclass(frozen=True)
class FolderIndex:
    """The DICOM images of one folder (not its subfolders), headers only.

    The readable entries' geometry is also kept as arrays (one row per entry,
    in ``entries`` order), so that matching a tag costs no loop over a
    500-slice folder's entries.
    """

    folder: Path
    entries: tuple[Entry, ...]
    sizes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    """(n, 3) voxels along x, y, z; -1 for an unreadable entry."""
    origins: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    """(n, 3) LPS position of voxel (0, 0, 0), mm."""
    spacings: np.ndarray = field(default_factory=lambda: np.ones((0, 3)))
    """(n, 3) spacing, mm."""
    axes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3, 3)))
    """(n, 3, 3) direction matrices, columns the image axes."""

    @classmethod
    def of(cls, folder: Path, entries: tuple[Entry, ...]) -> FolderIndex:
        """The index of ``entries``, with their geometry as arrays."""
        grids = [entry.grid for entry in entries]
        return cls(
            folder,
            entries,
            np.array([grid.size if grid else (-1, -1, -1) for grid in grids], dtype=float).reshape(-1, 3),
            np.array([grid.origin if grid else (0.0,) * 3 for grid in grids], dtype=float).reshape(-1, 3),
            np.array([grid.spacing if grid else (1.0,) * 3 for grid in grids], dtype=float).reshape(-1, 3),
            np.array([grid.axes if grid else np.zeros((3, 3)) for grid in grids], dtype=float).reshape(
                -1, 3, 3
            ),
        )


_INDEXES: OrderedDict[tuple[str, int], FolderIndex] = OrderedDict()
"""The folder indexes of this process, least recently used first (see :func:`folder_index`)."""


def forget() -> None:
    """Drop the folder indexes this process keeps (a run starts with none: files may have changed)."""
    _INDEXES.clear()


def _entry(path: Path) -> Entry:
    try:
        reader = read_information(os.fspath(path), dicom=True)
        grid = grid_of(reader)
    except (RuntimeError, ValueError) as error:
        return Entry(path, None, problem=f"unreadable: {itk_reason(error)}")
    series = reader.GetMetaData(SERIES_UID).strip() if reader.HasMetaDataKey(SERIES_UID) else ""
    return Entry(path, grid, series)


def folder_index(folder: Path) -> FolderIndex:
    """Index the DICOM images of ``folder`` (read once per process while its files are unchanged).

    An index is kept by the folder's real path and the name, size and
    modification time of each of its files (one directory listing: a file
    added, removed or rewritten makes a new index).
    """
    try:
        listed = sorted(
            (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in os.scandir(folder)
            if entry.is_file() and not entry.name.startswith(".") and not entry.name.lower().endswith(".tag")
        )
    except OSError:
        return FolderIndex.of(folder, ())
    key = (os.path.realpath(folder), hash(tuple(listed)))
    kept = _INDEXES.get(key)
    if kept is not None:
        _INDEXES.move_to_end(key)
        return kept
    files = [folder / name for name, _, _ in listed]
    index = FolderIndex.of(folder, tuple(_entry(path) for path in files if is_dicom(path)))
    _INDEXES[key] = index
    while len(_INDEXES) > _KEPT_FOLDERS:
        _INDEXES.popitem(last=False)
    return index


def _mismatch(header: TagHeader, grid: Grid, tolerance: Tolerance) -> str:
    """Why a one-slice image is not in the tag's plane ("" when it is: size, spacing, directions)."""
    if grid.size[2] != 1:
        return f"{grid.size[2]} slices in one file"
    if tuple(grid.size[:2]) != tuple(header.size[:2]):
        return f"{grid.size[0]}x{grid.size[1]} pixels, the tag {header.size[0]}x{header.size[1]}"
    spacing = max(abs(header.spacing[i] - grid.spacing[i]) / abs(grid.spacing[i]) for i in (0, 1))
    if spacing > tolerance.spacing:
        return f"pixel spacing {grid.spacing[0]:g}x{grid.spacing[1]:g} mm"
    directions = float(np.max(np.abs(tag_grid(header).axes[:, :2] - grid.axes[:, :2])))
    if directions > tolerance.direction:
        return "other row/column directions"
    return ""


def _nearest_slices(
    header: TagHeader, index: FolderIndex, positions: np.ndarray, tolerance: Tolerance
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per entry: the tag slice nearest to its voxel (0, 0), the distance (mm), and whether it is one
    slice in the tag's plane geometry (size, in-plane spacing, row/column directions: :func:`_mismatch`).
    """
    if not index.entries:
        empty = np.zeros(0)
        return empty.astype(int), empty, empty.astype(bool)
    sizes, spacings = index.sizes, index.spacings
    in_plane = (sizes[:, 2] == 1) & (sizes[:, 0] == header.size[0]) & (sizes[:, 1] == header.size[1])
    relative = np.abs(np.asarray(header.spacing[:2])[None, :] - spacings[:, :2]) / np.abs(spacings[:, :2])
    in_plane &= relative.max(axis=1) <= tolerance.spacing
    turned = np.abs(index.axes[:, :, :2] - tag_grid(header).axes[None, :, :2]).reshape(len(sizes), -1)
    in_plane &= turned.max(axis=1) <= tolerance.direction
    distances = np.linalg.norm(index.origins[:, None, :] - positions[None, :, :], axis=2)
    nearest = np.argmin(distances, axis=1)
    return nearest, distances[np.arange(len(sizes)), nearest], in_plane


class _Reasons:
    """Why each entry that is not the tag's is not, worded only when a failure lists them."""

    def __init__(
        self,
        header: TagHeader,
        index: FolderIndex,
        positions: np.ndarray,
        tolerance: Tolerance,
        in_plane: np.ndarray,
        distance: np.ndarray,
    ) -> None:
        self.header, self.index, self.tolerance = header, index, tolerance
        self.slices = "slices" if len(positions) > 1 else "slice"
        self.others = np.flatnonzero(~in_plane | (distance > tolerance.origin))
        self.distance = distance

    def __bool__(self) -> bool:
        return bool(len(self.others))

    def text(self) -> str:
        described = []
        for at in self.others[:_LISTED]:
            entry = self.index.entries[at]
            problem = (
                entry.problem if entry.grid is None else _mismatch(self.header, entry.grid, self.tolerance)
            )
            problem = problem or f"{self.distance[at]:.3g} mm from the tag's {self.slices}"
            described.append(f"{entry.path.name} ({problem})")
        more = f", and {len(self.others) - _LISTED} more" if len(self.others) > _LISTED else ""
        return "; ".join(described) + more


def match_in_folder(header: TagHeader, folder: Path, tolerance: Tolerance) -> Path | tuple[Path, ...]:
    """The DICOM image(s) of ``folder`` that the tag lies on: one file, or one series' slices.

    Slice k of the tag must have exactly one image at its position (voxel
    (0, 0) within ``tolerance.origin`` mm) with its size, in-plane spacing and
    directions; with several series there, the one that has all the tag's
    slices. Raises ReferenceImageError naming what was looked at otherwise.
    """
    index = folder_index(folder)
    where = f"{folder}{os.sep}" if str(folder) else f".{os.sep}"
    if not index.entries:
        raise ReferenceImageError(f"no DICOM image in {where}")
    positions = tag_grid(header).slice_positions()
    nearest, distance, in_plane = _nearest_slices(header, index, positions, tolerance)
    found: list[dict[str, list[Path]]] = [{} for _ in positions]
    for at in np.flatnonzero(in_plane & (distance <= tolerance.origin)):
        entry = index.entries[at]
        found[int(nearest[at])].setdefault(entry.series, []).append(entry.path)
    why = _Reasons(header, index, positions, tolerance, in_plane, distance)
    complete = [series for series in found[0] if all(len(at.get(series, [])) == 1 for at in found)]
    if len(complete) == 1 and all(len(at) == 1 for at in found):
        files = tuple(at[complete[0]][0] for at in found)
        return files[0] if len(files) == 1 else files
    count = f"{len(index.entries)} DICOM image{'s' if len(index.entries) > 1 else ''} in {where}"
    several = sorted({path.name for at in found for paths in at.values() for path in paths})
    if any(sum(len(paths) for paths in at.values()) > 1 for at in found):
        raise DuplicateReferencesError(
            f"{len(several)} of the {count} lie on the tag's grid ({', '.join(several[:_LISTED])}): "
            "duplicates, cannot tell which one it was drawn on; name it in --pairs PAIRS.csv"
        )
    if several:
        missing = [k for k, at in enumerate(found) if not at]
        why_text = f"; not matching: {why.text()}" if why else ""
        raise ReferenceImageError(
            f"the {count} hold {len(positions) - len(missing)} of the tag's {len(positions)} slices "
            f"(none at slice {', '.join(map(str, missing[:_LISTED]))}){why_text}"
        )
    raise ReferenceImageError(f"none of the {count} lies on the tag's grid: {why.text()}")


def find_reference(tag: Path, header: TagHeader, tolerance: Tolerance) -> Path | tuple[Path, ...]:
    """``--reference auto``: the image named after ``tag``, else the DICOM image(s) of its folder on its grid.

    Raises ReferenceImageError listing what was looked at, and what to do.
    """
    candidates = reference_candidates(tag)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    named = ", ".join(candidate.name for candidate in candidates)
    try:
        return match_in_folder(header, tag.parent, tolerance)
    except ReferenceImageError as error:
        if isinstance(error, DuplicateReferencesError):
            raise ReferenceImageError(f"no {named} beside the tag, and {error}") from None
        raise ReferenceImageError(
            f"no reference image found: no {named} beside the tag, and {error} "
            "(--pairs PAIRS.csv names each tag's image; --reference none: areas without HU)"
        ) from None


@dataclass(frozen=True)
class Pairs:
    """The rows of a ``--pairs`` CSV file: each tag's reference image (resolved paths)."""

    path: Path
    references: dict[str, Path]
    """The real path of each tag -> its reference (a file or a series folder)."""
    unfound: int = 0
    """How many of its tags do not exist (paths written from another folder than the file's)."""

    def not_listed(self) -> str:
        """Why a tag is not found in the file, with the rule for its paths when rows name no file."""
        text = f"not listed in --pairs {self.path}"
        if self.unfound:
            text += (
                f" ({self.unfound} of its {len(self.references)} tags do not exist: its paths are taken "
                f"relative to its own folder, {self.path.parent or '.'})"
            )
        return text + "; add a row, or give --reference auto to find the others"

    def reference_of(self, tag: Path) -> Path | None:
        """The reference the file names for ``tag``, or None when ``tag`` is not in it."""
        return self.references.get(os.path.realpath(tag))


def load_pairs(path: str | os.PathLike[str]) -> Pairs:
    """Read a ``--pairs`` CSV file: a header row with ``tag`` and ``reference``, then one row per tag.

    Paths are relative to the CSV file's folder (or absolute). Raises
    UsageError for a file that cannot be read, lacks a column, or pairs one
    tag with two images. A reference that does not exist is not an error
    here: that tag's file fails, the others run.
    """
    source = Path(path)
    fields, lines, _ = read_user_csv(source, "--pairs")
    names = [name.lower() for name in fields]
    if "tag" not in names or "reference" not in names:
        raise UsageError(f"--pairs {source}: the first row must name the columns tag and reference")
    tag_at, reference_at = names.index("tag"), names.index("reference")
    base = source.parent
    references: dict[str, Path] = {}
    unfound = 0
    for line, values in enumerate(lines, start=2):
        values = values + [""] * (len(fields) - len(values))
        if not values[tag_at]:
            continue
        tag = os.path.realpath(base / values[tag_at])
        unfound += not os.path.exists(tag)
        reference = base / values[reference_at] if values[reference_at] else Path()
        if tag in references and references[tag] != reference:
            raise UsageError(f"--pairs {source}, line {line}: {values[tag_at]} is paired with two images")
        references[tag] = reference
    return Pairs(source, references, unfound)


def locate(
    tag: Path, header: TagHeader, reference: ReferenceSpec, pairs: Pairs | None, tolerance: Tolerance
) -> Located:
    """Where the reference of ``tag`` is, by ``pairs`` first, then ``reference`` (None, "auto" or a path).

    Raises ReferenceImageError when ``auto`` finds nothing, when ``pairs``
    names an image that does not exist, or does not list ``tag`` (and
    ``reference`` is not ``auto``).
    """
    if pairs is not None:
        paired = pairs.reference_of(tag)
        if paired is not None:
            if paired == Path() or not paired.exists():
                raise ReferenceImageError(
                    f"--pairs {pairs.path} names {paired} for it: no such file or folder"
                )
            return paired
        if reference != "auto":
            raise ReferenceImageError(pairs.not_listed())
    if reference is None or reference == "none":
        return None
    if reference == "auto":
        return find_reference(tag, header, tolerance)
    return Path(reference)


def open_located(located: Located, slices: int, pixels: bool = False) -> Reference | None:
    """Open the reference :func:`locate` found (``slices``: the tag's z size, to pick a series)."""
    if located is None:
        return None
    if isinstance(located, tuple):
        return Reference.of_files(located)
    return Reference.open(located, slices, pixels)


def check(
    tag: str | os.PathLike[str],
    reference: ReferenceSpec = "auto",
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    pairs: Pairs | None = None,
) -> GeometryCheck:
    """Compare the grid of the tag at ``tag`` with that of its reference image.

    ``reference`` is ``"auto"`` (the image named after the tag: ``name.dcm``
    for ``name.dcm.tag``; ``name`` -- a file or a DICOM series folder -- or
    ``name.dcm`` for ``name.tag``; else the DICOM image(s) of the tag's folder
    on its grid), or the path of an image file or a DICOM series folder;
    ``pairs`` (see :func:`load_pairs`) names each tag's image. Raises
    ReferenceImageError when there is no usable reference, TagFileError for a
    broken tag.
    """
    tag_path = Path(tag)
    header = read_header(tag_path)
    located = locate(tag_path, header, reference, pairs, tolerance)
    if located is None:
        raise ReferenceImageError("check needs a reference image (auto, or a path), not none")
    return compare(header, open_located(located, header.size[2]), tolerance)  # type: ignore[arg-type]
