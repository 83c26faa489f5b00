"""DICOM Segmentation objects (SEG) of a tag, written with highdicom.

A SEG is a derived object: it references the DICOM images the tag was drawn
on (Study, Series, SOP Instance UIDs, Frame of Reference) and copies their
patient and study modules, so it needs them -- the mask must have been put on
its reference's grid (``--reference``). Frame k of a segment is slice k of the
mask, which is file (or frame) k of the reference, so the frames lie exactly
where the source slices do.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .labels import LabelTable
from .mask import label_values

if TYPE_CHECKING:
    import pydicom

    from .mask import Mask
    from .options import ConvertOptions

SERIES_NUMBER = 1000
"""The SEG's Series Number: DICOM wants one (Type 1 here); a high number keeps it after the CT's series."""


def _segment_description(number: int, value: int, labels: LabelTable) -> Any:
    import highdicom
    from pydicom.sr.codedict import codes

    label = labels[value]
    # A label without coded terms is described as what it surely is: tissue.
    property_type = getattr(codes.SCT, label.property_type or "Tissue")
    regions = [getattr(codes.SCT, label.anatomic_region)] if label.anatomic_region else None
    return highdicom.seg.SegmentDescription(
        segment_number=number,
        segment_label=label.name[:64],  # LO
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=property_type,
        # Drawn in sliceOmatic by a person; its tools are not recorded in the tag.
        algorithm_type=highdicom.seg.SegmentAlgorithmTypeValues.MANUAL,
        anatomic_regions=regions,
        display_color=highdicom.color.CIELabColor.from_rgb(*(round(c * 255) for c in label.color)),
    )


def _complete_modules(seg: pydicom.Dataset, sources: list[pydicom.Dataset]) -> None:
    """Mend what the SEG's modules require and highdicom copies from the sources as they are."""
    # Type 1C when PatientIdentityRemoved is YES; a de-identified source that
    # did not record its method (barbell2-10.dcm) is said to be just that.
    if seg.get("PatientIdentityRemoved") == "YES" and not (
        "DeidentificationMethod" in seg or "DeidentificationMethodCodeSequence" in seg
    ):
        recorded = [s for s in sources if s.get("DeidentificationMethod")]
        seg.DeidentificationMethod = (
            recorded[0].DeidentificationMethod if recorded else "not recorded in the source images"
        )
    # Type 1 in the Segmentation Image module. highdicom gives "00" for a
    # source without the attribute, but copies an empty one as it is
    # (barbell2-10.dcm): empty says no more than absent, so it means "00" too.
    if not seg.get("LossyImageCompression"):
        lossy = any(s.get("LossyImageCompression") == "01" for s in sources)
        seg.LossyImageCompression = "01" if lossy else "00"
    # Some CTs store SpacingBetweenSlices negative (barbell2-10.dcm: -2.0);
    # the SEG's Pixel Measures forbid it, and the distance is what it means.
    for group in seg.SharedFunctionalGroupsSequence:
        for measures in group.get("PixelMeasuresSequence", []):
            spacing = measures.get("SpacingBetweenSlices")
            if spacing is not None and float(spacing) < 0:
                measures.SpacingBetweenSlices = abs(float(spacing))


def _segmentation(
    sources: list[pydicom.Dataset],
    pixels: np.ndarray,
    values: list[int],
    labels: LabelTable,
    options: ConvertOptions,
    description: str,
) -> Any:
    import importlib.metadata  # here: 14 ms at every `itk-tag` start, for a DICOM SEG only

    import highdicom

    return highdicom.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels,
        segmentation_type=options.seg_type.upper(),
        segment_descriptions=[
            _segment_description(number, value, labels) for number, value in enumerate(values, start=1)
        ],
        series_instance_uid=highdicom.UID(),
        series_number=SERIES_NUMBER,
        sop_instance_uid=highdicom.UID(),
        instance_number=1,
        manufacturer="itk-tag",
        manufacturer_model_name="itk-tag",
        # The installed distribution's version (the package's __init__ is above this room).
        software_versions=importlib.metadata.version("itk-tag"),
        # Type 1 in the Enhanced General Equipment module; software has no serial number.
        device_serial_number="0",
        content_label="SLICEOMATIC",
        content_description=description[:64],  # LO
        series_description=options.seg_series_description[:64],  # LO
    )


def write_dicom_seg(path: str | os.PathLike[str], mask: Mask, options: ConvertOptions) -> None:
    """Write ``mask`` (on its reference's grid) as a DICOM SEG, one segment per label present.

    Segments are numbered 1, 2, ... in increasing label value; each has the
    label's name (``options.labels``), its colour (as CIELab) and its coded
    terms: category SCT 85756007 "Tissue", type and anatomic region from the
    label table (``alberta``), else type "Tissue". The SEG gets new Series and
    SOP Instance UIDs (highdicom.UID) and the patient and study of its source
    images (the reference's datasets); Manufacturer and Manufacturer's Model
    Name are "itk-tag", Software Versions its version. ``options.seg_type``
    and ``options.seg_series_description`` were checked when the options were made.

    Raises ValueError when the mask has no reference (``--reference``), the
    reference is not DICOM, or the mask holds no label.
    """
    try:
        import highdicom  # noqa: F401 - here, for a clear message without it
    except ImportError:
        raise ValueError("a DICOM SEG needs highdicom >= 0.24, on Python >= 3.10") from None
    if mask.reference is None:
        raise ValueError(
            "a DICOM SEG references the DICOM images the tag was drawn on: "
            "give --reference auto or --reference PATH"
        )
    sources = mask.reference.datasets()
    labels = options.label_table
    values = label_values(mask.voxels)
    if not values:
        raise ValueError("the mask holds no label (every voxel is 0): a DICOM SEG needs a segment")
    if options.seg_type == "binary":
        pixels = np.stack([mask.voxels == value for value in values], axis=-1)
    else:
        segment_numbers = np.zeros(int(mask.voxels.max()) + 1, dtype=np.uint16)
        segment_numbers[values] = np.arange(1, len(values) + 1)
        pixels = segment_numbers[mask.voxels].astype(np.uint8 if len(values) < 256 else np.uint16)
    with warnings.catch_warnings():
        # The patient's name is copied from the sources as it is, even when
        # highdicom finds its form odd ("2303310783", an anonymiser's number).
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
        tag = mask.check.tag.name if mask.check is not None else "a .tag file"
        seg = _segmentation(sources, pixels, values, labels, options, f"sliceOmatic mask {tag}")
    _complete_modules(seg, sources)
    seg.save_as(os.fspath(path), enforce_file_format=True)
