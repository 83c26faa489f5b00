"""What a ``.tag`` file holds: its header, its geometry, and how much of each label."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..format import read_array
from .labels import LabelsSpec, load_labels


def info(path: str | os.PathLike[str], labels: LabelsSpec = None) -> dict[str, Any]:
    """Describe the tag at ``path`` (a JSON-ready dict).

    Fields: path, size [x, y, z], pixel_type (uint8 / uint16), spacing,
    origin, direction (3x3 row by row, as SimpleITK), header_size and
    file_size (bytes), keywords (every header keyword, lower case, value as
    written), and labels: for each label value present except 0 ("no tag"),
    its name (from ``labels``; else "Label N"), voxel count, area in cm²
    (voxels x inc_x x inc_y: the cross-section of one slice, the sum over the
    slices of several) and volume in cm³ (voxels x inc_x x inc_y x epais; None
    for one slice, whose epais is a slice thickness, not a distance between
    slices), as ``itk-tag measure --reference none`` gives them. ``spacing_from``
    is ``"tag"``: the spacing is the header's, written with 4 decimals
    (``measure`` with a reference takes the CT's, which can differ in the 5th
    significant digit).
    """
    voxels, header = read_array(path)
    table = load_labels(labels)
    values, counts = np.unique(voxels, return_counts=True)
    pixel_area = header.spacing[0] * header.spacing[1] / 100.0  # cm²
    several = header.size[2] > 1
    return {
        "path": os.fspath(path),
        "size": list(header.size),
        "pixel_type": str(header.dtype),
        "spacing": list(header.spacing),
        "origin": list(header.origin),
        "direction": list(header.direction),
        "header_size": header.header_size,
        "file_size": header.file_size,
        "keywords": dict(header.keywords),
        "spacing_from": "tag",
        "labels": [
            {
                "value": int(value),
                "name": table[int(value)].name,
                "voxels": int(count),
                "area_cm2": float(count) * pixel_area,
                "volume_cm3": float(count) * pixel_area * header.spacing[2] / 10.0 if several else None,
            }
            for value, count in zip(values, counts)
            if value != 0
        ],
    }


def _vector(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:.10g}" for v in values) + ")"


def format_info(description: dict[str, Any]) -> str:
    """Render the description made by :func:`info` as text for a person."""
    x, y, z = description["size"]
    keywords = " ".join(f"{k}:{v}" for k, v in description["keywords"].items())
    lines = [
        description["path"],
        f"  size        {x} x {y} x {z} voxels, {description['pixel_type']}",
        f"  spacing     {_vector(description['spacing'])} mm",
        f"  origin      {_vector(description['origin'])} mm",
        f"  direction   {_vector(description['direction'])}",
        f"  header      {description['header_size']} bytes (file {description['file_size']} bytes)",
        f"  keywords    {keywords}",
    ]
    labels = description["labels"]
    if not labels:
        lines.append("  labels      none (every voxel is 0)")
        return "\n".join(lines)
    width = max(len(label["name"]) for label in labels)
    heading = f"{'value':>5}  {'name':<{width}}  {'voxels':>9}  {'area cm²':>12}  {'volume cm³':>12}"
    lines.append(f"  labels      {heading}")
    for label in labels:
        volume = "-" if label["volume_cm3"] is None else f"{label['volume_cm3']:.3f}"
        lines.append(
            f"              {label['value']:>5}  {label['name']:<{width}}  {label['voxels']:>9}"
            f"  {label['area_cm2']:>12.3f}  {volume:>12}"
        )
    lines.append(
        "  (areas and volumes from the tag header's spacing, 4 decimals; measure --reference takes the CT's;"
        " no volume for one slice)"
    )
    return "\n".join(lines)
