"""Which ``.tag`` header keywords travel with a mask into other formats and back.

Geometry keywords are left behind: the output's own geometry replaces them
(and after alignment they would contradict it). The others -- uid, chksum,
bin, dim_x, unknown ones -- become metadata fields with the same lower-case
names, which the C++ ``.tag`` writer reads back from an image's metadata
dictionary: NRRD keeps them as ``key:=value`` fields, so ``.tag -> .nrrd /
.seg.nrrd -> .tag`` restores them.

One geometry keyword travels too: ``epais`` of a one-slice tag put on a
reference grid whose z spacing says another thing (a single DICOM slice has
ITK's z spacing 1). The slice places no voxel, so the output keeps the
reference's grid and carries the thickness as an ``epais`` field, which
converting back to ``.tag`` takes as the z spacing (:func:`slice_thickness`,
:func:`carried_thickness`); docs/cli.md, "Header keywords in other formats".
"""

from __future__ import annotations

from collections.abc import Mapping

from ..format.header import parse_number
from ..format.writer import is_extra_keyword

# Field names of the NRRD header (NRRD0005 specification); a keyword named like
# one would be written as that field instead of a key:=value pair.
NRRD_FIELDS = frozenset(
    [
        "dimension", "type", "encoding", "endian", "content", "min", "max", "oldmin", "old min",
        "oldmax", "old max", "datafile", "data file", "lineskip", "line skip", "byteskip",
        "byte skip", "number", "sampleunits", "sample units", "sizes", "spacings", "thicknesses",
        "axismins", "axis mins", "axismaxs", "axis maxs", "centerings", "centers", "labels", "units",
        "kinds", "space", "space dimension", "space units", "space origin", "space directions",
        "measurement frame",
    ]
)  # fmt: skip


def is_carried(key: str, value: object) -> bool:
    """Tell whether a keyword is one that the ``.tag`` writer writes back (not geometry) and
    that is no NRRD field name.
    """
    return is_extra_keyword(key, value) and key not in NRRD_FIELDS


def carried_keywords(fields: Mapping[str, object]) -> dict[str, str]:
    """Select the entries of ``fields`` (tag keywords, NRRD fields, image metadata) to carry."""
    return {key: value for key, value in fields.items() if is_carried(key, value)}  # type: ignore[misc]


THICKNESS = "epais"
"""The keyword of a tag's slice thickness (mm), its z spacing (FORMAT.md)."""


def _written(value: float) -> str:
    return f"{value:.4f}"  # the 4 decimals a .tag header keeps (format.writer)


def slice_thickness(keywords: Mapping[str, str], slices: int, spacing_z: float) -> dict[str, str]:
    """``{"epais": value}`` (the tag's value as written) when an output of ``slices`` slices with z
    spacing ``spacing_z`` (mm) would not give the tag's ``epais`` back, else ``{}``.

    Only a one-slice output carries it: with more slices the z spacing places the
    voxels, and a reference grid that does not match ``epais`` is refused.
    """
    value = keywords.get(THICKNESS)
    number = parse_number(value) if isinstance(value, str) else None
    if slices != 1 or number is None or not number > 0 or _written(number) == _written(spacing_z):
        return {}
    return {THICKNESS: value}  # type: ignore[dict-item]


def carried_thickness(fields: Mapping[str, object], slices: int) -> float | None:
    """The slice thickness (mm) that a one-slice image of ours carries in its ``epais`` field
    (written by :func:`slice_thickness`), else None.
    """
    value = fields.get(THICKNESS)
    number = parse_number(value) if isinstance(value, str) else None
    return number if slices == 1 and number is not None and number > 0 else None
