"""Whether a file already in an output's place is a complete output of itk-tag (a rerun's skip).

A rerun skips an output that is there, so that an interrupted cohort run goes on
where it stopped. That is only right for a whole output that itk-tag wrote: an
empty file, a truncated one (a copy that stopped, a full disk), another
program's file or an unreadable one is reported, with the flag that replaces
it, and never counted as done.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import itk_reason
from ..format import TagFileError, read_header
from ..hosts.itk_paths import itk_path

SEG_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7")
"""Segmentation Storage and Label Map Segmentation Storage (DICOM PS3.4 B.5)."""


def _image_problem(path: Path, output_format: str, record_key: str) -> str:
    """A whole read with SimpleITK: truncated compressed data or short raw data fails it."""
    import SimpleITK

    reader = SimpleITK.ImageFileReader()
    reader.SetFileName(itk_path(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        return f"not a readable {output_format} file ({itk_reason(error).replace(itk_path(path), str(path))})"
    if record_key and not reader.HasMetaDataKey(record_key):
        return f"not an output of itk-tag (it records no {record_key}: another program's file)"
    try:
        reader.Execute()
    except RuntimeError as error:
        reason = itk_reason(error).replace(itk_path(path), str(path))
        return f"an incomplete {output_format} file (truncated? {reason})"
    return ""


def _seg_problem(path: Path) -> str:
    """A DICOM SEG: a Segmentation object whose pixel data is all there (pydicom, as highdicom wrote it)."""
    import pydicom

    try:
        dataset = pydicom.dcmread(path)
        sop_class = str(dataset.get("SOPClassUID", ""))
        if sop_class not in SEG_SOP_CLASSES:
            return f"a DICOM file but not a segmentation (SOP Class {sop_class or 'none'})"
        frames = int(dataset.get("NumberOfFrames", 1))
        bits = frames * int(dataset.Rows) * int(dataset.Columns) * int(dataset.BitsAllocated)
        if len(dataset.PixelData) < (bits + 7) // 8:
            return "an incomplete DICOM SEG (its pixel data is shorter than its frames)"
    except Exception as error:  # noqa: BLE001 - whatever pydicom says, the file is not a whole SEG
        return f"not a readable DICOM SEG ({' '.join(str(error).split())[:200]})"
    return ""


def output_problem(path: Path, output_format: str, record_key: str = "") -> str:
    """Why the file at ``path`` is not a complete ``output_format`` output of itk-tag; "" when it is.

    * any format: an empty file;
    * ``tag``: the header and the voxels it announces (the file's size) must
      read (FORMAT.md);
    * the image formats (``nrrd``, ``seg.nrrd``, ``mha``, ``nii``, ``nii.gz``):
      the file must read whole, and hold the metadata field ``record_key``
      when one is given (the options record of the formats that keep it,
      :data:`~.writers.RECORD_KEY`: so another program's file is told; NIfTI
      records none, and a complete NIfTI of another program passes);
    * ``dcm``: a DICOM Segmentation whose pixel data holds all its frames.

    The whole read costs about what writing it did (a 512 x 512 slice: a few
    ms); it runs only for outputs that are there.
    """
    try:
        size = os.stat(path).st_size
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if size == 0:
        return "an empty file (0 bytes)"
    if output_format == "tag":
        try:
            read_header(path)
        except (TagFileError, OSError) as error:
            return f"not a complete .tag file ({' '.join(str(error).split())})"
        return ""
    if output_format == "dcm":
        return _seg_problem(path)
    return _image_problem(path, output_format, record_key)
