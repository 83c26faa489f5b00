"""Which ``.tag`` header keywords travel with a mask into other formats and back.

Geometry keywords are left behind: the output's own geometry replaces them
(and after alignment they would contradict it). The others -- uid, chksum,
bin, dim_x, unknown ones -- become metadata fields with the same lower-case
names, which the C++ ``.tag`` writer reads back from an image's metadata
dictionary: NRRD keeps them as ``key:=value`` fields, so ``.tag -> .nrrd /
.seg.nrrd -> .tag`` restores them.
"""

from __future__ import annotations

from collections.abc import Mapping

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
