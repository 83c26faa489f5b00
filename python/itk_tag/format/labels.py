"""Names and colours of label values: the conventions and the colour of an unnamed label.

A ``.tag`` file names none of its labels: they come from a convention
(``alberta``) or a table the user gives (``itk_tag.batch.labels`` reads JSON and
CSV tables). This module is in ``format/`` (standard library only) so that every
reader of ``.tag`` -- the CLI and the 3D Slicer module, which is given only this
folder -- names and colours a label the same way from one source.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

Color = tuple[float, float, float]
"""Red, green, blue in 0..1 (as Slicer stores segment colours)."""


@dataclass(frozen=True)
class Label:
    """The name and colour of one label value, and what it is in DICOM's coded terms."""

    name: str
    color: Color
    property_type: str | None = None
    """Segmented Property Type (DICOM SEG): a SNOMED CT concept, by its name in pydicom's ``codes.SCT``."""
    anatomic_region: str | None = None
    """Anatomic Region of the segment (DICOM SEG), named the same way; None when the type says it all."""


def default_color(value: int) -> Color:
    """Pick a colour for an unnamed label: hues spread by the golden angle, so neighbours differ."""
    red, green, blue = colorsys.hsv_to_rgb((value * 0.618033988749895) % 1.0, 0.75, 0.95)
    return (round(red, 4), round(green, 4), round(blue, 4))


@dataclass(frozen=True)
class LabelTable:
    """Label values and their names and colours; values not in the table are "Label N"."""

    labels: dict[int, Label] = field(default_factory=dict)

    def __getitem__(self, value: int) -> Label:
        """Return the label of ``value``; "Label N" with a generated colour when the table lacks it."""
        return self.labels.get(value) or Label(f"Label {value}", default_color(value))


ALBERTA = LabelTable(
    {
        # The Alberta protocol for body composition on one CT slice; colours as
        # sliceOmatic users know them (muscle red, IMAT green, VAT yellow, SAT cyan).
        # Coded terms (docs/cli.md cites them): DICOM's tissue types (CID 7166) have
        # one code for every adipose tissue, so the anatomic region tells IMAT, VAT
        # and SAT apart; "Skeletal muscle" is CID 8134's.
        1: Label("muscle", (1.0, 0.0, 0.0), "SkeletalMuscle"),
        2: Label("IMAT", (0.0, 1.0, 0.0), "AdiposeTissue", "SkeletalMuscle"),
        5: Label("VAT", (1.0, 1.0, 0.0), "AdiposeTissue", "IntraAbdominopelvic"),
        7: Label("SAT", (0.0, 1.0, 1.0), "AdiposeTissue", "SubcutaneousTissue"),
    }
)

CONVENTIONS = {"alberta": ALBERTA}
"""The label conventions known by name (``--labels alberta``)."""
