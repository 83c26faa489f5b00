"""Whether a tag lies on a reference image's grid: the rule and its tolerance.

A ``.tag`` header keeps 4 decimals, so its grid is the reference's up to
~5e-5 mm: the same voxels to a person, different grids to ITK. The comparison
is by what places voxels: the position of every slice, the in-plane spacing
and the row/column directions. The slice axis of a single slice places no
voxel, so its direction and spacing are not compared (GDCM, for example,
reports a slice direction of -1 for barbell2-10.dcm where the tag implies +1).

Here (numpy only) so that every user of the rule has the same one: ``itk-tag
check`` / ``--reference`` (``batch/reference.py``, which finds and opens the
reference) and the 3D Slicer module (a volume already in Slicer's scene).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .header import TagHeader

if TYPE_CHECKING:
    import SimpleITK


@dataclass(frozen=True)
class Tolerance:
    """How far a tag's geometry may be from its reference's and still be the same grid.

    The defaults cover the 4 decimals a ``.tag`` header keeps (up to 5e-5 mm)
    with room to spare, and stay far below a voxel.
    """

    origin: float = 1e-3
    """Largest distance (mm) between matching voxel centres of the first slice (and every slice)."""
    direction: float = 1e-4
    """Largest difference of one component of the row or column direction unit vectors."""
    spacing: float = 1e-4
    """Largest relative difference of the in-plane pixel spacing."""


DEFAULT_TOLERANCE = Tolerance()

# Beyond these, two grids are not one scan seen with rounding: the tag was
# drawn on another image (another patient, another series), and --force
# would put it in the wrong place.
GROSS = Tolerance(origin=10.0, direction=0.01, spacing=0.01)


@dataclass(frozen=True)
class Grid:
    """Where an image's voxels are, in ITK's LPS terms (as SimpleITK reports them)."""

    size: tuple[int, int, int]
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: tuple[float, ...]
    """The 3x3 direction matrix, row by row; its columns are the image axes."""

    @property
    def axes(self) -> np.ndarray:
        """The direction matrix as a 3x3 array whose columns are the image axes."""
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    def apply_to(self, image: SimpleITK.Image) -> None:
        """Give ``image`` this grid's origin, spacing and direction."""
        image.SetOrigin(self.origin)
        image.SetSpacing(self.spacing)
        image.SetDirection(self.direction)

    def slice_positions(self) -> np.ndarray:
        """(z, 3): the LPS position of voxel (0, 0) of each slice."""
        steps = np.arange(self.size[2])[:, None] * self.spacing[2] * self.axes[:, 2][None, :]
        return np.asarray(self.origin, dtype=float)[None, :] + steps


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


def tag_grid(header: TagHeader) -> Grid:
    """Return the grid a tag header describes."""
    return Grid(header.size, header.origin, header.spacing, header.direction)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]


def compare_grids(
    header: TagHeader, grid: Grid, slice_positions: np.ndarray, tolerance: Tolerance = DEFAULT_TOLERANCE
) -> tuple[list[Comparison], bool, list[str]]:
    """Compare the grid of a tag header with a reference image's ``grid``, whose slice ``slice_positions``
    ((z, 3), LPS mm, in the image's slice order) may differ from what ``grid`` alone implies (a series).

    Returns the comparisons (size, origin, every slice's position, in-plane spacing, row/column
    directions), whether the reference's slices run against dir_h x dir_v (the mask is then
    flipped along z to stay in place), and notes for a person.
    """
    tag_axes = tag_grid(header).axes
    size_deviation = float(max(abs(a - b) for a, b in zip(header.size, grid.size)))
    comparisons = [Comparison("size", list(header.size), list(grid.size), size_deviation, 0.0, "voxels")]
    notes: list[str] = []
    tag_positions = tag_grid(header).slice_positions()
    normal = tag_axes[:, 2]
    ref_positions = slice_positions
    run = ref_positions[-1] - ref_positions[0]
    reversed_slices = len(ref_positions) > 1 and float(np.dot(run, normal)) < 0
    if reversed_slices:
        ref_positions = ref_positions[::-1]
        notes.append("the reference's slices run against dir_h x dir_v: the mask is flipped along z")
    first = float(np.linalg.norm(tag_positions[0] - ref_positions[0]))
    comparisons.append(
        Comparison(
            "origin", _rounded(tag_positions[0]), _rounded(ref_positions[0]), first, tolerance.origin, "mm"
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
            _rounded(grid.axes[:, :2].T.ravel()),
            float(np.max(np.abs(tag_axes[:, :2] - grid.axes[:, :2]))),
            tolerance.direction,
        )
    )
    if header.size[2] == 1:
        slice_axis = np.abs(grid.axes[:, 2] - normal).max() > tolerance.direction
        if slice_axis or abs(header.spacing[2] - grid.spacing[2]) > tolerance.spacing * grid.spacing[2]:
            notes.append(
                "one slice: its slice axis places no voxel, so the tag's "
                f"(direction {_format(_rounded(normal))}, spacing {header.spacing[2]:g}) "
                f"is replaced by the reference's "
                f"(direction {_format(_rounded(grid.axes[:, 2]))}, spacing {grid.spacing[2]:g})"
            )
    return comparisons, reversed_slices, notes


def is_gross(comparisons: list[Comparison]) -> bool:
    """True when the grids differ by far more than rounding (GROSS): the tag was drawn on another image."""
    # Positions are in mm; spacing (relative) and direction components share GROSS's 0.01.
    return any(
        c.deviation > max(c.tolerance, GROSS.origin if c.unit == "mm" else GROSS.spacing)
        for c in comparisons
        if c.name != "size"
    )
