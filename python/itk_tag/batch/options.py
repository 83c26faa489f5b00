"""One options object per command, checked once, when it is made.

The command line builds them from its arguments; :func:`itk_tag.convert` and
:func:`itk_tag.measure` build them from their keyword arguments (or take one
as ``options=``). Everything after that trusts them: a bad option is a
UsageError before any file is read. They are picklable, for worker processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from ..errors import UsageError
from .formats import normalize_format
from .labels import LabelsSpec, LabelTable, load_labels
from .pairing import Pairs, load_pairs
from .reference import DEFAULT_TOLERANCE, ReferenceSpec, Tolerance
from .subjects import Subjects, load_subjects, smi_label

SEG_TYPES = ("binary", "labelmap")
"""``binary``: one bit plane per segment (Segmentation Storage); ``labelmap``: one frame holding
segment numbers (Label Map Segmentation Storage, DICOM 2024c)."""

SEG_SERIES_DESCRIPTION = "sliceOmatic segmentation"


@dataclass(frozen=True)
class BatchOptions:
    """What every file of a ``convert`` or ``measure`` run shares.

    ``reference``: ``None``/``"none"`` (the tag's own grid), ``"auto"`` (the
    image named after each tag, else the DICOM image of its folder on its
    grid: :mod:`.pairing`) or the path of one image for every tag -- which
    must exist (UsageError). ``pairs``: a ``--pairs`` CSV file (tag,reference
    rows, loaded here: :func:`~.pairing.load_pairs`), with ``reference`` None
    (a tag it does not list fails) or ``"auto"`` (found as auto). ``labels``: a label spec, loaded into a
    LabelTable here (LabelsError). ``jobs`` >= 1 worker processes;
    ``progress``: a progress bar on stderr (None: when stderr is a terminal).
    """

    reference: ReferenceSpec = None
    labels: LabelsSpec = None
    tolerance: Tolerance = DEFAULT_TOLERANCE
    force: bool = False
    overwrite: bool = False
    jobs: int = 1
    progress: Optional[bool] = None
    pairs: Union[str, os.PathLike[str], Pairs, None] = None

    def __post_init__(self) -> None:
        reference = None if self.reference is None else os.fspath(self.reference)
        if reference == "none":
            reference = None
        if reference not in (None, "auto") and not Path(reference).exists():  # type: ignore[arg-type]
            raise UsageError(f"--reference {reference}: no such file or folder")
        object.__setattr__(self, "reference", reference)
        if self.pairs is not None and not isinstance(self.pairs, Pairs):
            if reference not in (None, "auto"):
                raise UsageError(
                    f"--pairs names each tag's image: it goes with --reference auto (for tags it does not "
                    f"list) or alone, not with --reference {reference}"
                )
            object.__setattr__(self, "pairs", load_pairs(self.pairs))
        object.__setattr__(self, "labels", load_labels(self.labels))
        if not isinstance(self.jobs, int) or self.jobs < 1:
            raise UsageError(f"--jobs must be at least 1, not {self.jobs}")

    @property
    def label_table(self) -> LabelTable:
        """The labels, loaded (``labels`` itself holds the same LabelTable after checking)."""
        return self.labels  # type: ignore[return-value]

    @property
    def pair_table(self) -> Pairs | None:
        """The ``--pairs`` rows, loaded (``pairs`` itself holds the same after checking)."""
        return self.pairs  # type: ignore[return-value]

    def typed_reference(self) -> str:
        """The reference options as a user types them: ``--reference auto``, ``--pairs FILE``, ..."""
        given = f"--reference {self.reference or 'none'}"
        if self.pair_table is None:
            return given
        return f"--pairs {self.pair_table.path}" + (" --reference auto" if self.reference == "auto" else "")

    def record(self) -> dict[str, Any]:
        """What an output made with these options depends on, as JSON-ready values.

        The reference is recorded as given (``auto``, or the absolute path),
        the labels as a digest of their names and colours.
        """
        reference = self.reference if self.reference in (None, "auto") else os.path.abspath(self.reference)  # type: ignore[type-var]
        table = sorted((value, label.name, label.color) for value, label in self.label_table.labels.items())
        record = {
            "reference": reference or "none",
            "labels": hashlib.sha256(repr(table).encode()).hexdigest()[:16],
            "tolerance": list(dataclasses.astuple(self.tolerance)),
            "force": self.force,
        }
        if self.pair_table is not None:
            record["pairs"] = os.path.abspath(self.pair_table.path)
        return record


@dataclass(frozen=True)
class ConvertOptions(BatchOptions):
    """The options of ``convert``: those of every batch, the output format and the DICOM SEG's.

    ``format`` is a format name (``nrrd``, ``.nii.gz``, ...; None: from the
    output's name); a DICOM SEG (``dcm``) needs a ``reference``; ``seg_type``
    is one of SEG_TYPES. Raises UsageError otherwise.
    """

    format: Optional[str] = None
    seg_type: str = "binary"
    seg_series_description: str = SEG_SERIES_DESCRIPTION

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.format is not None:
            try:
                object.__setattr__(self, "format", normalize_format(self.format))
            except ValueError as error:
                raise UsageError(str(error)) from None
        if self.seg_type not in SEG_TYPES:
            raise UsageError(f"unknown segmentation type {self.seg_type!r} (one of: {', '.join(SEG_TYPES)})")
        if self.format == "dcm" and self.reference is None and self.pairs is None:
            raise UsageError(
                "--format dcm (a DICOM SEG) references the DICOM images the tags were drawn on: "
                "give --reference auto, --reference PATH or --pairs PAIRS.csv"
            )

    def with_format(self, output_format: str) -> ConvertOptions:
        """These options for ``output_format`` (checked again: a DICOM SEG needs a reference)."""
        return self if output_format == self.format else dataclasses.replace(self, format=output_format)

    def record(self) -> dict[str, Any]:
        """As :meth:`BatchOptions.record`, with the DICOM SEG's options for ``dcm``."""
        record = super().record()
        if self.format == "dcm":
            record["seg"] = [self.seg_type, self.seg_series_description]
        return record


@dataclass(frozen=True)
class MeasureOptions(BatchOptions):
    """The options of ``measure``: those of every batch (see :class:`BatchOptions`), and the wide table's.

    ``subjects``: a SUBJECTS.csv file (patient_id, height_m or height_cm, more
    columns carried), loaded here (:func:`~.subjects.load_subjects`; UsageError);
    ``smi_label``: the label value whose area the skeletal muscle index is of
    (None: the label named ``muscle`` in ``labels``).
    """

    subjects: Union[str, os.PathLike[str], Subjects, None] = None
    smi_label: Optional[int] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.subjects is not None and not isinstance(self.subjects, Subjects):
            object.__setattr__(self, "subjects", load_subjects(self.subjects))
        if self.subjects is not None:
            smi_label(self.label_table, self.smi_label)  # UsageError now, not after the run
        if self.smi_label is not None and (not isinstance(self.smi_label, int) or self.smi_label < 1):
            raise UsageError(f"--smi-label must be a label value of 1 or more, not {self.smi_label}")

    @property
    def subject_table(self) -> Subjects | None:
        """The SUBJECTS.csv rows, loaded (``subjects`` itself holds the same after checking)."""
        return self.subjects  # type: ignore[return-value]
