"""The output formats by name: which there are, a path's format by its extension, an output's file name.

Below :mod:`.options` (which checks ``--format``) and :mod:`.writers` (which
writes each format), so both can read the names without the other.
"""

from __future__ import annotations

from pathlib import Path

# Longest first, so ".seg.nrrd" wins over ".nrrd" and ".nii.gz" over ".gz".
OUTPUT_FORMATS = ("seg.nrrd", "nii.gz", "nrrd", "nii", "mha", "tag", "dcm")
"""Formats an output can have: the extension without its leading dot."""

LABEL_IMAGE_FORMATS = ("seg.nrrd", "nii.gz", "nrrd", "nii", "mha", "mhd")
"""Formats a label image is read from when converting to ``.tag``."""

# A DICOM SEG named <stem>.dcm would take the name of the CT it references
# (name.dcm.tag lies beside name.dcm).
OUTPUT_SUFFIXES = {"dcm": "seg.dcm"}


def format_of(path: str | Path, formats: tuple[str, ...] = OUTPUT_FORMATS) -> str | None:
    """Return the format of ``path`` by its extension (case-insensitive), or None."""
    name = Path(path).name.lower()
    for known in formats:
        if name.endswith("." + known) and len(name) > len(known) + 1:
            return known
    return None


def normalize_format(name: str) -> str:
    """Return a format name as given on the command line (``.nii.gz``, ``NRRD``) in canonical form.

    Raises ValueError for a name not in OUTPUT_FORMATS.
    """
    canonical = name.lower().lstrip(".")
    if canonical not in OUTPUT_FORMATS:
        raise ValueError(f"unknown format {name!r} (one of: {', '.join(OUTPUT_FORMATS)})")
    return canonical


def output_name(source: Path, output_format: str) -> str:
    """Return the file name of the output of ``source`` in ``output_format`` (``x.seg.dcm`` for DICOM SEG).

    The input's format extension is dropped (and ``.dcm`` of ``name.dcm.tag``).
    """
    name = source.name
    known = format_of(name, ("tag", *LABEL_IMAGE_FORMATS))
    if known is not None:
        name = name[: -len(known) - 1]
    if known == "tag" and name.lower().endswith(".dcm") and len(name) > 4:
        name = name[:-4]
    return f"{name}.{OUTPUT_SUFFIXES.get(output_format, output_format)}"
