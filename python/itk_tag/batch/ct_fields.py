"""What a measure row says about its CT: patient, study date, series, slice thickness, tube voltage.

Read from the reference's first DICOM file header (GDCM, through
:meth:`~itk_tag.batch.reference.Reference.metadata`), so that a table of many
patients can be joined with a study's other data by patient ID.
"""

from __future__ import annotations

from typing import Any, Callable

from .reference import Reference

FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "patient_id": ("0010|0020", str),  # PatientID
    "study_date": ("0008|0020", str),  # StudyDate, YYYYMMDD as written
    "series_description": ("0008|103e", str),  # SeriesDescription
    "slice_thickness_mm": ("0018|0050", float),  # SliceThickness
    "kvp": ("0018|0060", float),  # KVP
}
"""Column -> (DICOM attribute as SimpleITK names it, the type of its value)."""


def ct_fields(reference: Reference | None) -> dict[str, Any]:
    """The FIELDS columns for a mask's reference: None where it has no such attribute (or no reference).

    A number that cannot be read as one (a malformed DS/IS value) is None, not
    a failure of the file: these columns describe the CT, they are not measured.
    """
    values: dict[str, Any] = dict.fromkeys(FIELDS)
    if reference is None:
        return values
    found = reference.metadata([key for key, _ in FIELDS.values()])
    for column, (key, kind) in FIELDS.items():
        text = found.get(key, "")
        if not text:
            continue
        try:
            values[column] = kind(text.split("\\")[0])
        except ValueError:
            values[column] = None
    return values
