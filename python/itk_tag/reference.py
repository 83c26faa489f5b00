"""Whether a tag and its reference image are the same voxel grid, and how to put the tag on it.

A ``.tag`` header keeps 4 decimals, so its grid is the reference's up to
~5e-5 mm: the same voxels to a person, different grids to ITK. The comparison
is by what places voxels: the position of every slice, the in-plane spacing
and the row/column directions. The slice axis of a single slice places no
voxel, so its direction and spacing are not compared (GDCM, for example,
reports a slice direction of -1 for barbell2-10.dcm where the tag implies +1).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from .dicom import Reference, ReferenceImageError, find_reference, read_reference
from .format import TagHeader, read_header
from .geometry import DEFAULT_TOLERANCE, Grid, Tolerance

ReferenceSpec = Union[str, "os.PathLike[str]", None]
"""``None`` or ``"none"`` (the tag's own grid), ``"auto"`` (the image beside the tag), or a path."""


class GeometryMismatchError(ValueError):
    """A tag and its reference image are not the same grid (the message lists the differences)."""


@dataclass(frozen=True)
class Comparison:
    """One compared quantity: the largest deviation found and the tolerance it is held to."""

    name: str
    tag: Any
    reference: Any
    deviation: float
    tolerance: float
    unit: str = ""

    @property
    def ok(self) -> bool:
        """True when the deviation is within the tolerance."""
        return bool(self.deviation <= self.tolerance)


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


def _format(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_format(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def describe(comparison: Comparison) -> str:
    """``name: tag X, reference Y, deviation D unit (tolerance T)``."""
    unit = f" {comparison.unit}" if comparison.unit else ""
    return (
        f"{comparison.name}: tag {_format(comparison.tag)}, reference {_format(comparison.reference)}, "
        f"deviation {comparison.deviation:.3g}{unit} (tolerance {comparison.tolerance:g}{unit})"
    )


def tag_slice_positions(header: TagHeader) -> np.ndarray:
    """(z, 3): the position of voxel (0, 0) of each tag slice, as the header places them."""
    axes = np.asarray(header.direction, dtype=float).reshape(3, 3)
    steps = np.arange(header.size[2])[:, None] * header.spacing[2] * axes[:, 2][None, :]
    return np.asarray(header.origin, dtype=float)[None, :] + steps


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


def compare(
    header: TagHeader, reference: Reference, tolerance: Tolerance = DEFAULT_TOLERANCE
) -> GeometryCheck:
    """Compare the grid of a tag header with that of its reference image."""
    grid = reference.grid
    tag_axes = np.asarray(header.direction, dtype=float).reshape(3, 3)
    ref_axes = grid.axes
    size_deviation = float(max(abs(a - b) for a, b in zip(header.size, grid.size)))
    comparisons = [Comparison("size", list(header.size), list(grid.size), size_deviation, 0.0, "voxels")]
    notes: list[str] = []

    tag_positions = tag_slice_positions(header)
    normal = tag_axes[:, 2]
    ref_positions = reference.slice_positions
    run = ref_positions[-1] - ref_positions[0]
    reversed_slices = len(ref_positions) > 1 and float(np.dot(run, normal)) < 0
    if reversed_slices:
        ref_positions = ref_positions[::-1]
        notes.append("the reference's slices run against dir_h x dir_v: the mask is flipped along z")
    comparisons.append(
        Comparison(
            "origin",
            _rounded(tag_positions[0]),
            _rounded(ref_positions[0]),
            float(np.linalg.norm(tag_positions[0] - ref_positions[0])),
            tolerance.origin,
            "mm",
        )
    )
    if header.size[2] > 1 and len(ref_positions) == len(tag_positions):
        distances = np.linalg.norm(tag_positions - ref_positions, axis=1)
        worst = int(np.argmax(distances))
        comparisons.append(
            Comparison(
                f"slice {worst} position",
                _rounded(tag_positions[worst]),
                _rounded(ref_positions[worst]),
                float(distances[worst]),
                tolerance.origin,
                "mm",
            )
        )
    spacing_deviation = max(abs(header.spacing[i] - grid.spacing[i]) / abs(grid.spacing[i]) for i in (0, 1))
    comparisons.append(
        Comparison(
            "in-plane spacing (relative deviation)",
            list(header.spacing[:2]),
            list(grid.spacing[:2]),
            float(spacing_deviation),
            tolerance.spacing,
        )
    )
    comparisons.append(
        Comparison(
            "row/column directions",
            _rounded(tag_axes[:, :2].T.ravel()),
            _rounded(ref_axes[:, :2].T.ravel()),
            float(np.max(np.abs(tag_axes[:, :2] - ref_axes[:, :2]))),
            tolerance.direction,
        )
    )
    if header.size[2] == 1:
        slice_axis = np.abs(ref_axes[:, 2] - normal).max() > tolerance.direction
        if slice_axis or abs(header.spacing[2] - grid.spacing[2]) > tolerance.spacing * grid.spacing[2]:
            notes.append(
                "one slice: its slice axis places no voxel, so the tag's "
                f"(direction {_format(_rounded(normal))}, spacing {header.spacing[2]:g}) "
                f"is replaced by the reference's "
                f"(direction {_format(_rounded(ref_axes[:, 2]))}, spacing {grid.spacing[2]:g})"
            )
    return GeometryCheck(Path(header.path), reference.path, comparisons, reversed_slices, grid, notes)


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


def aligned(voxels: np.ndarray, check: GeometryCheck, force: bool = False) -> tuple[np.ndarray, Grid]:
    """Return the voxels and grid to write a tag on its reference's grid, after ``check``.

    When the reference's slices run the other way, ``voxels`` is flipped in
    place and returned. Raises GeometryMismatchError when the grids differ beyond tolerance (unless
    ``force``) or differ in size (always: the voxels would not fit).
    """
    if not check.size_matches:
        raise GeometryMismatchError("; ".join(check.differences()))
    if not check.ok and not force:
        raise GeometryMismatchError(
            f"not on the grid of {check.reference}: "
            + "; ".join(check.differences())
            + " (--force, or force=True, puts it on that grid anyway)"
        )
    if check.reversed_slices:
        flip_slices(voxels)
    return voxels, check.grid


def resolve_reference(tag: Path, reference: ReferenceSpec) -> Path | None:
    """Return the reference image path that ``reference`` names for ``tag`` (None for none)."""
    if reference is None or reference == "none":
        return None
    if reference == "auto":
        return find_reference(tag)
    return Path(reference)


def check(
    tag: str | os.PathLike[str], reference: ReferenceSpec = "auto", tolerance: Tolerance = DEFAULT_TOLERANCE
) -> GeometryCheck:
    """Compare the grid of the tag at ``tag`` with that of its reference image.

    ``reference`` is ``"auto"`` (the image beside the tag: ``name.dcm`` for
    ``name.dcm.tag``; ``name`` -- a file or a DICOM series folder -- or
    ``name.dcm`` for ``name.tag``), or the path of an image file or a DICOM
    series folder. Raises ReferenceImageError when there is no usable reference.
    """
    tag_path = Path(tag)
    header = read_header(tag_path)
    path = resolve_reference(tag_path, reference)
    if path is None:
        raise ReferenceImageError("check needs a reference image ('auto' or a path), not none")
    return compare(header, read_reference(path, header.size[2]), tolerance)
