"""A study's subjects: ``--subjects SUBJECTS.csv``, one row per patient, and the height the SMI needs.

The file has a header row with ``patient_id`` and ``height_m`` or
``height_cm``; every other column is carried into the wide table as it is
(age, sex, group, ...). A mask is matched to its subject by the PatientID
(0010,0020) of its CT.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import UsageError
from .labels import LabelTable
from .user_csv import read_user_csv

MUSCLE = "muscle"
"""The label name whose area the SMI is of, unless an SMI label is given."""

HEIGHTS_M = (0.4, 2.8)
"""The heights (m) a person can have: a value outside, after the unit of its column, is refused,
since it is most likely in the other unit (1.72 in height_cm, 172 in height_m)."""


@dataclass(frozen=True)
class Subject:
    """One row of SUBJECTS.csv."""

    patient_id: str
    height_m: Optional[float]
    """None when the row gives no height (an empty cell)."""
    columns: dict[str, str]
    """Every other column, as written."""


@dataclass(frozen=True)
class Subjects:
    """The rows of a SUBJECTS.csv file, by patient ID."""

    path: Path
    rows: dict[str, Subject]
    extra_columns: tuple[str, ...]
    """The carried columns, in the file's order."""

    def get(self, patient_id: str | None) -> Subject | None:
        """The subject with this patient ID (surrounding spaces ignored), or None."""
        return self.rows.get((patient_id or "").strip()) if patient_id else None


def _height(text: str, unit: str, where: str, decimal_comma: bool = False) -> float | None:
    """The height in metres of a cell (None when empty); ``decimal_comma``: ``1,72`` is 1.72."""
    if not text.strip():
        return None
    try:
        value = float(text.replace(",", ".") if decimal_comma else text)
    except ValueError:
        raise UsageError(f"{where}: height_{unit} {text!r} is not a number") from None
    metres = value / 100.0 if unit == "cm" else value
    if not HEIGHTS_M[0] <= metres <= HEIGHTS_M[1]:
        raise UsageError(
            f"{where}: height_{unit} {text} is not a person's height in {unit} "
            f"({HEIGHTS_M[0]} to {HEIGHTS_M[1]} m)"
        )
    return metres


def load_subjects(path: str | os.PathLike[str]) -> Subjects:
    """Read SUBJECTS.csv (UTF-8, a BOM allowed). Raises UsageError for a missing column, a height
    that is not a number or not a person's (see HEIGHTS_M), or a patient listed twice.
    """
    source = Path(path)
    fields, rows, delimiter = read_user_csv(source, "--subjects")
    lowered = [name.lower() for name in fields]
    unit = "m" if "height_m" in lowered else "cm" if "height_cm" in lowered else ""
    if "patient_id" not in lowered or not unit:
        raise UsageError(
            f"--subjects {source}: the first row must name patient_id and height_m or height_cm "
            f"(it names {', '.join(fields) or 'nothing'})"
        )
    id_at, height_at = lowered.index("patient_id"), lowered.index(f"height_{unit}")
    extra = tuple(name for at, name in enumerate(fields) if at not in (id_at, height_at))
    subjects: dict[str, Subject] = {}
    for line, values in enumerate(rows, start=2):
        values = values + [""] * (len(fields) - len(values))
        patient = values[id_at]
        if not patient:
            continue
        where = f"--subjects {source}, line {line}"
        if patient in subjects:
            raise UsageError(f"{where}: patient_id {patient} is listed twice")
        height = _height(values[height_at], unit, where, decimal_comma=delimiter == ";")
        columns = {name: values[at] for at, name in enumerate(fields) if name in extra}
        subjects[patient] = Subject(patient, height, columns)
    return Subjects(source, subjects, extra)


def smi_label(labels: LabelTable, given: Optional[int] = None) -> int:
    """The label value the SMI is of: ``given``, else the one named ``muscle``; UsageError if none."""
    if given is not None:
        return given
    for value, label in sorted(labels.labels.items()):
        if label.name.lower() == MUSCLE:
            return value
    raise UsageError(
        "the SMI is of the label named 'muscle', and the label table has none "
        "(--labels alberta names 1 muscle; --smi-label N takes label N)"
    )
