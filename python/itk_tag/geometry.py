"""Voxel grids (size, origin, spacing, direction) and the tolerances used to compare them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

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


def grid_of(image: SimpleITK.Image | SimpleITK.ImageFileReader) -> Grid:
    """Return the grid of a 3D SimpleITK image, or of a file whose information a reader read."""
    size = tuple(int(v) for v in image.GetSize())
    if len(size) != 3:
        raise ValueError(f"expected a 3D image, not {len(size)}D")
    return Grid(
        size=size,  # type: ignore[arg-type]
        origin=tuple(float(v) for v in image.GetOrigin()),  # type: ignore[arg-type]
        spacing=tuple(float(v) for v in image.GetSpacing()),  # type: ignore[arg-type]
        direction=tuple(float(v) for v in image.GetDirection()),
    )


def without_negative_spacing(grid: Grid) -> Grid:
    """Return the grid ITK's ImageFileReader makes of what an ImageIO reports.

    An ImageIO may report a negative spacing (GDCM does for a negative
    SpacingBetweenSlices); the reader then flips that axis' direction and
    keeps the spacing positive, and the image in memory has that grid.
    """
    axes = grid.axes.copy()
    spacing = list(grid.spacing)
    for axis, value in enumerate(spacing):
        if value < 0:
            spacing[axis] = -value
            axes[:, axis] = 0.0 - axes[:, axis]  # 0.0 - x: no -0.0 in reports
    return Grid(grid.size, grid.origin, tuple(spacing), tuple(float(v) for v in axes.ravel()))  # type: ignore[arg-type]
