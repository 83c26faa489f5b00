"""Writing a mask in one of the output formats."""

from __future__ import annotations

from pathlib import Path

from .dicom import itk_reason
from .dicomseg import DEFAULT_SEG_OPTIONS, SegOptions, write_dicom_seg
from .image import to_image
from .itk_paths import itk_path
from .keywords import carried_keywords
from .labels import LabelTable
from .segnrrd import write_segmentation
from .sources import Mask


def write_mask(
    mask: Mask, path: Path, output_format: str, labels: LabelTable, seg: SegOptions = DEFAULT_SEG_OPTIONS
) -> None:
    """Write ``mask`` to ``path`` (which need not end like the format) in ``output_format``.

    ``.seg.nrrd`` gets one named, coloured segment per label; ``dcm`` is a
    DICOM SEG (highdicom, see :mod:`itk_tag.dicomseg`, options ``seg``); ``.tag`` goes
    through the C++ writer (itk::TagImageIO, via SimpleITK); the others through
    SimpleITK, compressed. Carried keywords (uid, chksum, ...) become metadata
    fields where the format keeps them (NRRD, MetaImage, .tag).
    """
    if output_format == "dcm":
        write_dicom_seg(path, mask, labels, seg)
        return
    keywords = carried_keywords(mask.keywords)
    if output_format == "seg.nrrd":
        write_segmentation(path, mask.voxels, mask.grid, labels, keywords)
        return
    import SimpleITK

    image = to_image(mask.voxels, mask.grid, keywords)
    spelled = itk_path(path)
    try:
        SimpleITK.WriteImage(image, spelled, useCompression=output_format != "tag")
    except RuntimeError as error:
        reason = itk_reason(error).replace(spelled, str(path))
        raise ValueError(f"cannot write {output_format}: {reason}") from error
