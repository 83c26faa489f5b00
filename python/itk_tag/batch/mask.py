"""A mask in memory -- a label map's voxels, its grid, the keywords it carries -- and the labels it holds.

What :mod:`.convert` reads and :mod:`.writers`, :mod:`.dicomseg` and
:mod:`.measure` take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reference import GeometryCheck, Grid, Reference


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


def label_values(voxels: np.ndarray) -> list[int]:
    """The label values present in ``voxels`` (unsigned integers), 0 left out, in increasing order."""
    return [int(v) for v in np.flatnonzero(np.bincount(voxels.ravel())) if v != 0]
