"""The wide table: one row per mask, the labels side by side, and the skeletal muscle index.

Where :mod:`.measure`'s long table has one row per file and label, a
statistics package wants one row per mask (per patient): the wide table has
the file's columns (file, reference, the CT's patient_id ... kvp, slices,
spacing_from, status, reason), then per label ``<name>_area_cm2``,
``<name>_hu_mean`` and ``<name>_hu_sd`` (``<name>`` from the label table:
``muscle_area_cm2``), then, with SUBJECTS.csv (:mod:`.subjects`), its carried
columns, ``height_m`` and ``smi_cm2_m2``.

SMI, the skeletal muscle index, is the muscle cross-sectional area at L3 over
the height squared, in cm²/m² (Prado et al., Lancet Oncol 2008;9:629-35): the
``area_cm2`` of the muscle label over ``height_m``². It is left empty, with the
reason in the row's ``reason``, for a mask without a CT patient ID, a patient
without a height, and a mask of more than one slice (SMI is of one slice).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..errors import UsageError
from .ct_fields import FIELDS
from .labels import LabelTable
from .subjects import Subjects, smi_label
from .tables import TABLE_FORMATS, write_table

if TYPE_CHECKING:
    import pandas

FILE_COLUMNS = ("file", "reference", *FIELDS, "slices", "spacing_from", "status", "reason")
"""The columns of a wide row before the labels'."""

LABEL_COLUMNS = ("area_cm2", "hu_mean", "hu_sd")
"""The long table's columns that each label gets in the wide table, as ``<name>_<column>``."""

SMI_COLUMN = "smi_cm2_m2"


def column_stem(name: str) -> str:
    """A label name as the start of a column name: lower case, other characters ``_`` (``Label 3`` ->
    ``label_3``; ``IMAT`` -> ``imat``), so that R, pandas and SPSS take it as it is.
    """
    stem = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    return stem if stem and not stem[0].isdigit() else f"label_{stem}"


def _number(value: Any) -> Optional[float]:
    """A table value as a number (rows read back from a CSV are strings), None when empty."""
    if value is None or value == "":
        return None
    return float(value)


@dataclass
class WideTable:
    """One row per mask (see the module's description); ``columns`` in order, rows as dicts."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dataframe(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (``columns``); ImportError without pandas."""
        try:
            import pandas
        except ImportError:
            raise ImportError("to_dataframe needs pandas (pip install pandas); .rows has the same") from None
        return pandas.DataFrame(self.rows, columns=self.columns)

    def write(self, path: str | os.PathLike[str], overwrite: bool = True) -> None:
        """Write the table atomically as CSV (empty cells for None) or JSON, by ``path``'s extension.

        Raises UsageError for another extension, OutputExistsError when
        ``path`` exists and not ``overwrite``.
        """
        destination = Path(path)
        if destination.suffix.lower().lstrip(".") not in TABLE_FORMATS:
            raise UsageError(f"{destination}: the wide table ends in .csv or .json")
        write_table(self.rows, self.columns, destination, overwrite)


def is_wide_table(path: Path) -> bool:
    """True when ``path`` holds a wide table (its columns start with FILE_COLUMNS): one an earlier run
    wrote, that a rerun may replace.
    """
    try:
        with path.open(newline="", encoding="utf-8") as file:
            if path.suffix.lower() == ".json":
                rows = json.load(file)
                return isinstance(rows, list) and all(
                    isinstance(row, dict) and tuple(row)[: len(FILE_COLUMNS)] == FILE_COLUMNS for row in rows
                )
            header = next(csv.reader(file), [])
            return tuple(header[: len(FILE_COLUMNS)]) == FILE_COLUMNS
    except (OSError, ValueError, UnicodeDecodeError, csv.Error):
        return False


def _label_stems(values: Sequence[int], labels: LabelTable) -> dict[int, str]:
    stems: dict[int, str] = {}
    for value in values:
        stem = column_stem(labels[value].name)
        stems[value] = stem if stem not in stems.values() else f"{stem}_{value}"
    return stems


def _smi(row: dict[str, Any], subjects: Subjects, area: Optional[float]) -> tuple[Any, Any, str]:
    """(height_m, smi, why it is empty) for a measured row."""
    subject = subjects.get(row.get("patient_id"))
    if not row.get("patient_id"):
        return None, None, "no patient ID (the CT's PatientID): no SMI"
    if subject is None:
        return None, None, f"patient_id {row['patient_id']} is not in {subjects.path.name}: no SMI"
    if subject.height_m is None:
        return None, None, f"no height for patient_id {row['patient_id']} in {subjects.path.name}: no SMI"
    if int(_number(row.get("slices")) or 1) != 1:
        return subject.height_m, None, "SMI is of one slice, this mask has several: no SMI"
    if area is None:
        return subject.height_m, None, "no muscle area: no SMI"
    return subject.height_m, area / subject.height_m**2, ""


def wide_table(
    rows: Sequence[dict[str, Any]],
    labels: LabelTable,
    subjects: Subjects | None = None,
    smi_of: Optional[int] = None,
) -> WideTable:
    """Make the wide table of long rows (those of :func:`itk_tag.measure`, or read back from its CSV).

    One row per file, in the order the files first appear; per label (those
    of ``labels`` and any present) its area (cm²) and HU mean and SD. With
    ``subjects``, their columns, ``height_m`` and ``smi_cm2_m2`` (of label
    ``smi_of``, default the one named ``muscle``: UsageError if none). A
    failed file's row has its status and reason and empty measures.
    """
    by_file: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_file.setdefault(os.fspath(row["file"]), []).append(row)
    present = {int(row["label"]) for row in rows if row.get("label") not in (None, "")}
    stems = _label_stems(sorted(present | set(labels.labels)), labels)
    columns = list(FILE_COLUMNS)
    columns += [f"{stem}_{column}" for stem in stems.values() for column in LABEL_COLUMNS]
    muscle = smi_label(labels, smi_of) if subjects is not None else None
    carried: dict[str, str] = {}
    if subjects is not None:
        for name in subjects.extra_columns:
            carried[name] = name if name not in columns else f"subject_{name}"
        columns += [*carried.values(), "height_m", SMI_COLUMN]
    table = WideTable(columns)
    for file, file_rows in by_file.items():
        first = file_rows[0]
        wide: dict[str, Any] = dict.fromkeys(columns)
        wide.update({column: first.get(column) for column in FILE_COLUMNS})
        wide["file"] = file
        reasons = [first.get("reason") or ""]
        for row in file_rows:
            if row.get("label") in (None, ""):
                continue
            stem = stems[int(row["label"])]
            for column in LABEL_COLUMNS:
                wide[f"{stem}_{column}"] = _number(row.get(column))
        if subjects is not None and muscle is not None:
            subject = subjects.get(first.get("patient_id"))
            if subject is not None:
                wide.update({carried[name]: subject.columns.get(name, "") for name in subjects.extra_columns})
            if first.get("status") != "failed":
                area = wide.get(f"{stems[muscle]}_area_cm2") if muscle in stems else None
                wide["height_m"], wide[SMI_COLUMN], why = _smi(first, subjects, area)
                reasons.append(why)
        wide["reason"] = "; ".join(reason for reason in reasons if reason)
        table.rows.append(wide)
    return table
