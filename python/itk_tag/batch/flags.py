"""The flags of a qc run: what a person should look at, file by file, and ``flags.csv``.

Shared by the run (:mod:`.qc`) and the page (:mod:`.report`): each file's entry
(:class:`FileQc`: measure's rows and what its picture shows), the rules
(:func:`find_flags`), the cohort's spread of an area (:func:`area_spread`).
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import writers
from .labels import LabelTable

FLAG_NAMES = ("failed", "geometry", "empty", "unknown-label", "multi-slice", "area-outlier")
"""Every flag, in the order a file's flags are listed."""

DEFAULT_OUTLIER_K = 3.5
"""k of the area-outlier rule: Iglewicz and Hoaglin's cut-off for the modified z-score."""

MAD_TO_SD = 1.4826
"""MAD x 1.4826 estimates a normal distribution's standard deviation."""

MIN_COHORT = 5
"""Fewest files with a label for its areas to have a cohort to be an outlier of."""


@dataclass(frozen=True)
class Flag:
    """One thing a person should look at: a row of ``flags.csv``.

    ``label`` is a label value ("" when the flag is about the whole file).
    """

    file: str
    flag: str
    label: str
    reason: str


@dataclass
class FileQc:
    """One file of a qc run: its rows (measure's), its picture and what the report says of it."""

    file: str
    """The path as measure's table has it (``file`` column)."""
    title: str
    """Its name below the input folder it was found in (``/`` separators)."""
    picture: str = ""
    """The PNG's path below the qc folder (``/`` separators); "" when there is none."""
    size: tuple[int, int] = (0, 0)
    """The PNG's width and height in pixels."""
    geometry: str = ""
    """The geometry check's result, for a person: ``same grid``, ``no CT``, or what differs."""
    problem: str = ""
    """Why the mask does not lie on its CT ("" when it does, or has no CT): the ``geometry`` flag."""
    shown: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)


def _number(value: Any) -> float | None:
    """A cell of measure's rows as a number: rows of this run hold numbers, rows kept from a table strings."""
    if value is None or value == "":
        return None
    return float(value)


def _labelled(rows: list[dict[str, Any]]) -> list[tuple[int, str, float, float]]:
    """(label, name, voxels, area cm²) of each label row."""
    return [
        (int(row["label"]), row["name"], _number(row["voxels"]) or 0.0, _number(row["area_cm2"]) or 0.0)
        for row in rows
        if row["label"] not in (None, "")
    ]


def find_flags(
    files: Sequence[FileQc], table: LabelTable, outlier_k: float = DEFAULT_OUTLIER_K
) -> list[Flag]:
    """The flags of a cohort, file by file in ``files``' order, each file's in FLAG_NAMES' order.

    * ``failed``: the file could not be measured (its reason), other than
    * ``geometry``: the mask is not on its CT's grid (the geometry check's
      reason), or was put on it by ``--force``;
    * ``empty``: no labelled voxel;
    * ``unknown-label``: a label with voxels that the label table does not
      name (only when a table was given);
    * ``multi-slice``: more than one slice (which one the picture shows);
    * ``area-outlier``: a label's area (cm², measure's ``area_cm2``) farther
      from the cohort's median than ``outlier_k`` x 1.4826 x MAD, the median
      and MAD (median absolute deviation) taken over the files where the label
      has voxels; only for labels with at least MIN_COHORT such files and a
      MAD above 0 (else the cohort gives no spread to judge by).
    """
    found: dict[str, list[Flag]] = {entry.file: [] for entry in files}
    cohort: dict[int, list[tuple[str, float]]] = {}
    for entry in files:
        add = found[entry.file].append
        status = entry.rows[0]["status"] if entry.rows else "failed"
        if status == "failed":
            if entry.problem:
                add(Flag(entry.file, "geometry", "", entry.problem))
            else:
                add(Flag(entry.file, "failed", "", entry.rows[0]["reason"] if entry.rows else ""))
            continue
        if entry.problem:
            add(Flag(entry.file, "geometry", "", entry.problem))
        labelled = [(value, name, area) for value, name, voxels, area in _labelled(entry.rows) if voxels > 0]
        if not labelled:
            add(Flag(entry.file, "empty", "", "no labelled voxel: every voxel of the mask is 0"))
        if table.labels:
            for value, _, _ in labelled:
                if value not in table.labels:
                    known = ", ".join(f"{v} {label.name}" for v, label in sorted(table.labels.items()))
                    add(
                        Flag(
                            entry.file,
                            "unknown-label",
                            str(value),
                            f"label {value} is not in the table ({known})",
                        )
                    )
        slices = _number(entry.rows[0]["slices"]) if entry.rows else None
        if slices is not None and slices > 1:
            add(Flag(entry.file, "multi-slice", "", f"{int(slices)} slices; the picture shows {entry.shown}"))
        for value, _, area in labelled:
            cohort.setdefault(value, []).append((entry.file, area))
    for value, members in sorted(cohort.items()):
        spread = area_spread([area for _, area in members], outlier_k)
        if spread is None:
            continue
        median, limit = spread
        for file, area in members:
            if abs(area - median) > limit:
                found[file].append(
                    Flag(
                        file,
                        "area-outlier",
                        str(value),
                        f"{table[value].name} {area:.2f} cm\u00b2, cohort median {median:.2f} cm\u00b2: "
                        f"{abs(area - median):.2f} cm\u00b2 away, more than k x 1.4826 x MAD = "
                        f"{limit:.2f} cm\u00b2 (k = {outlier_k:g}, {len(members)} files with the label)",
                    )
                )
    order = {name: position for position, name in enumerate(FLAG_NAMES)}
    return [flag for entry in files for flag in sorted(found[entry.file], key=lambda f: order[f.flag])]


def area_spread(areas: Sequence[float], outlier_k: float) -> tuple[float, float] | None:
    """(median, k x 1.4826 x MAD) of ``areas``; None below MIN_COHORT areas or when the MAD is 0."""
    if len(areas) < MIN_COHORT:
        return None
    values = np.asarray(areas, dtype=np.float64)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    return None if mad == 0 else (median, outlier_k * MAD_TO_SD * mad)


def write_flags(flags: Sequence[Flag], path: Path) -> None:
    """Write ``flags.csv`` atomically: a header, then ``file,flag,label,reason`` per flag."""
    with writers.atomic_output(path, "csv", overwrite=True) as temporary:
        with temporary.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["file", "flag", "label", "reason"])
            writer.writerows(dataclasses.astuple(flag) for flag in flags)
