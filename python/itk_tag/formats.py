"""The file formats ``convert`` writes and reads, known by their extensions."""

from __future__ import annotations

from pathlib import Path

# Longest first, so ".seg.nrrd" wins over ".nrrd" and ".nii.gz" over ".gz".
OUTPUT_FORMATS = ("seg.nrrd", "nii.gz", "nrrd", "nii", "mha", "tag", "dcm")
"""Formats an output can have: the extension without its leading dot."""

LABEL_IMAGE_FORMATS = ("seg.nrrd", "nii.gz", "nrrd", "nii", "mha", "mhd")
"""Formats a label image is read from when converting to ``.tag``."""


def format_of(path: str | Path, formats: tuple[str, ...] = OUTPUT_FORMATS) -> str | None:
    """Return the format of ``path`` by its extension (case-insensitive), or None."""
    name = Path(path).name.lower()
    for known in formats:
        if name.endswith("." + known) and len(name) > len(known) + 1:
            return known
    return None


def normalize_format(name: str) -> str:
    """Return a format name as given on the command line (``.nii.gz``, ``NRRD``) in canonical form."""
    canonical = name.lower().lstrip(".")
    if canonical not in OUTPUT_FORMATS:
        raise ValueError(f"unknown format {name!r} (one of: {', '.join(OUTPUT_FORMATS)})")
    return canonical


def stem(path: Path) -> str:
    """Return the name of an input without its format extension (and ``.dcm`` for ``name.dcm.tag``)."""
    name = path.name
    known = format_of(name, ("tag", *LABEL_IMAGE_FORMATS))
    if known is not None:
        name = name[: -len(known) - 1]
    if known == "tag" and name.lower().endswith(".dcm") and len(name) > 4:
        name = name[:-4]
    return name


# A DICOM SEG named <stem>.dcm would take the name of the CT it references
# (name.dcm.tag lies beside name.dcm).
OUTPUT_SUFFIXES = {"dcm": "seg.dcm"}


def output_name(source: Path, output_format: str) -> str:
    """Return the file name of the output of ``source`` in ``output_format`` (``x.seg.dcm`` for DICOM SEG)."""
    return f"{stem(source)}.{OUTPUT_SUFFIXES.get(output_format, output_format)}"
