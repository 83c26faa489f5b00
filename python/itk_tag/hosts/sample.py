"""The small ``.tag`` file shipped inside the package, and what every reader must make of it.

``itk-tag doctor`` reads it in each host. It is laid out as sliceOmatic writes
its files (FORMAT.md): 16 x 12 x 3 BYTE voxels holding the Alberta labels
0, 1, 2, 5, 7 in blocks, on a coronal grid whose direction matrix is exact in
binary (dir_h = +y, dir_v = -z, so the slice axis dir_h x dir_v is -x).
"""

from __future__ import annotations

from pathlib import Path

PATH = Path(__file__).resolve().parents[1] / "data" / "sample.tag"

SIZE = (16, 12, 3)
"""Voxels along x, y, z."""
DTYPE = "uint8"
ORIGIN = (-12.5, 30.25, 100.0)
"""mm, LPS (org_x, org_y, org_z)."""
SPACING = (0.75, 0.8, 2.5)
"""mm (inc_x, inc_y, epais)."""
DIRECTION = (0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
"""Row by row; its columns are dir_h, dir_v and dir_h x dir_v."""
VOXELS_SHA256 = "5bab5ef2cd3eeef152d44b57b91f913e20d69000ecf1b43e8455f8812cebabb6"
"""SHA-256 of the voxel bytes, x fastest (the bytes after the form feed)."""


def differences(facts: dict[str, object]) -> list[str]:
    """What a reader got wrong, from its ``size``, ``dtype``, ``origin``, ``spacing``,
    ``direction`` and ``sha256``; empty when it read the sample right.
    """
    expected: dict[str, object] = {
        "size": list(SIZE),
        "dtype": DTYPE,
        "origin": list(ORIGIN),
        "spacing": list(SPACING),
        "direction": list(DIRECTION),
        "sha256": VOXELS_SHA256,
    }
    wrong = []
    for key, want in expected.items():
        got = facts.get(key)
        if isinstance(want, list) and isinstance(got, list) and len(got) == len(want):
            same = all(abs(float(a) - float(b)) <= 1e-9 for a, b in zip(got, want))
        else:
            same = got == want
        if not same:
            wrong.append(f"{key} {got}, expected {want}")
    return wrong
