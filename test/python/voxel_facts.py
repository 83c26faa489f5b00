"""What the Slicer module tests compare of an image's voxels (numpy only).

Imported by slicer_module_driver.py in Slicer's Python and by slicer_module_cases.py in
the test's, so both sides describe voxels the same way.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


def facts(values: np.ndarray) -> dict[str, Any]:
    """Shape (z, y, x), sha256 of the values as uint16, and the count of each value."""
    as_short = np.ascontiguousarray(values, dtype=np.uint16)
    found, counts = np.unique(as_short, return_counts=True)
    return {
        "shape": list(as_short.shape),
        "sha256": hashlib.sha256(as_short.tobytes()).hexdigest(),
        "counts": {str(int(v)): int(c) for v, c in zip(found, counts)},
    }
