"""Body-composition measurements, and the books of a ``measure`` run: one row per file and label.

The numbers are those of SimpleITK's label statistics, bit for bit:
``LabelShapeStatisticsImageFilter``'s voxel counts and physical sizes (the
area of a 2D slice, the volume of the 3D mask) and
``LabelIntensityStatisticsImageFilter``'s HU mean, SD (n - 1), minimum,
maximum and median inside each label, computed in :mod:`.statistics` at a
fraction of those filters' cost. The mask is read and put on its
reference's grid exactly as ``convert`` does (:func:`itk_tag.batch.convert.load_tag`).

Every file gets rows -- measured, without a label, or failed, each with a
status and a reason -- and the table is written as the run goes (each
flush atomic), so an interrupted run keeps what it measured and a rerun
into the same table resumes it (:func:`measure`).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..errors import OutputExistsError, OutputOutdatedError, UsageError, reason_of
from . import formats, runner, tables, writers
from .convert import load_tag
from .ct_fields import FIELDS, ct_fields
from .labels import LabelsSpec, LabelTable
from .mask import Mask
from .options import MeasureOptions
from .pairing import forget
from .reference import DEFAULT_TOLERANCE, ReferenceSpec, Tolerance
from .runner import Outcome, Report
from .statistics import label_statistics
from .wide import WideTable, is_wide_table, wide_table

if TYPE_CHECKING:
    import pandas

COLUMNS = (
    "file", "reference", *FIELDS, "label", "name", "slices", "spacing_from", "voxels", "area_cm2",
    "slice_areas_cm2", "volume_cm3", "hu_mean", "hu_sd", "hu_min", "hu_max", "hu_median", "status", "reason",
)  # fmt: skip
"""The fields of a row, in the order of the CSV columns."""

SPACING_FROM = {True: "reference", False: "tag"}
"""``spacing_from``: areas and volumes use the reference's spacing (PixelSpacing, the series' slice
distance) when there is one, else the tag header's inc_x, inc_y, epais (4 decimals)."""

OUTPUT_FORMATS = ("csv", "json")

KEPT = ("measured", "no label")
"""Row statuses a resumed run keeps; a file with another (``failed``) is measured again."""

_FLUSH_EVERY = 2.0
"""Seconds between two writes of the table while a run goes."""


@dataclass
class Measurements(Report):
    """The rows of a :func:`measure` run, and every file's outcome (``measured`` or ``failed``)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    done: str = "measured"
    kept: int = 0
    """Files whose rows a resumed run kept from the table it was given."""
    options: Optional[MeasureOptions] = None
    """The options of the run (its labels, subjects and SMI label make :meth:`wide`)."""

    def details(self) -> str:
        """How many files had no reference (areas only), and how many were kept from an earlier run."""
        bare = len({row["file"] for row in self.rows if row["status"] == "measured" and not row["reference"]})
        text = f" ({bare} without a reference image: areas only, no HU)" if bare else ""
        return f"{text}; {self.kept} kept from the earlier run" if self.kept else text

    def wide(self) -> WideTable:
        """The wide table of the rows: one row per file (:func:`itk_tag.batch.wide.wide_table`), with the
        run's labels, and its subjects' columns, height and SMI when it had ``subjects``.
        """
        options = self.options if self.options is not None else MeasureOptions()
        return wide_table(self.rows, options.label_table, options.subject_table, options.smi_label)

    def to_dataframe(self) -> pandas.DataFrame:
        """Return the rows as a pandas DataFrame (columns COLUMNS); ImportError without pandas."""
        try:
            import pandas
        except ImportError:
            raise ImportError("to_dataframe needs pandas (pip install pandas); .rows has the same") from None
        return pandas.DataFrame(self.rows, columns=list(COLUMNS))


def _file_row(source: Path, status: str, reason: str) -> dict[str, Any]:
    """The one row of a file that has no label row: failed, or without a label."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        file=os.fspath(source), reference="", label=None, name="", voxels=0, status=status, reason=reason
    )
    return row


def _reference_columns(mask: Mask) -> dict[str, Any]:
    """The columns of a mask's rows that describe its reference: its path and the CT's FIELDS."""
    reference = mask.reference
    return {"reference": os.fspath(reference.path) if reference is not None else "", **ct_fields(reference)}


def measure_mask(mask: Mask, labels: LabelTable, source: Path) -> list[dict[str, Any]]:
    """Measure a mask (on its reference's grid when it has one): one row per label (see COLUMNS).

    Rows are for every label present and every label of ``labels`` (a tissue
    that is absent has 0 voxels and 0 cm², not no row), in increasing value:

    * ``voxels``; ``area_cm2``: voxels x row x column spacing (the reference's
      PixelSpacing, else the tag's inc_x, inc_y), the sum over slices for z > 1;
      ``slice_areas_cm2``: the area in each slice, in the tag's slice order;
    * ``volume_cm3`` (z > 1, else None): voxels x the three spacings;
    * ``hu_mean``, ``hu_sd`` (n - 1), ``hu_min``, ``hu_max``, ``hu_median``: of
      the reference's values (HU, RescaleSlope and RescaleIntercept applied)
      inside the label; None without a reference or for an absent label. The
      median is exact for whole-number HU (any CT whose slope and intercept
      are whole numbers), else to within a 65536th of the CT's value range;
    * ``status`` ``measured``, ``reason`` empty.

    A mask without any label, and no ``labels`` to list, gets one row of
    status ``no label``: a file is never left out.
    """
    image = writers.to_image(mask.voxels, mask.grid, {})
    ct = None
    if mask.reference is not None:
        ct = mask.reference.image()
        # The mask is on this grid by construction; ITK's reader is the one
        # that defines it exactly (slice spacing of a series included).
        image.CopyInformation(ct)
    found = label_statistics(image, ct, mask.reference.path if mask.reference is not None else source)
    present = set(found.voxels)
    slices = found.slice_sizes
    if mask.check is not None and mask.check.reversed_slices:
        slices.reverse()  # the mask was flipped onto the reference: back to the tag's order
    depth = image.GetSize()[2]
    described = _reference_columns(mask)
    rows = []
    for value in sorted(present | set(labels.labels)):
        here = value in present
        per_slice = [areas.get(value, 0.0) / 100.0 for areas in slices]
        row: dict[str, Any] = {
            "file": os.fspath(source),
            **described,
            "label": value,
            "name": labels[value].name,
            "slices": depth,
            "spacing_from": SPACING_FROM[mask.reference is not None],
            "voxels": found.voxels.get(value, 0),
            "area_cm2": sum(per_slice) if depth > 1 else per_slice[0],
            "slice_areas_cm2": per_slice,
            "volume_cm3": (found.size[value] / 1000.0 if here else 0.0) if depth > 1 else None,
        }
        hu = found.intensity.get(value) if found.intensity is not None else None
        for column, statistic in (
            ("hu_mean", "mean"),
            ("hu_sd", "sd"),
            ("hu_min", "minimum"),
            ("hu_max", "maximum"),
            ("hu_median", "median"),
        ):
            row[column] = getattr(hu, statistic) if hu is not None else None
        rows.append(dict(row, status="measured", reason=""))
    if not rows:
        rows.append(_file_row(source, "no label", "every voxel is 0 (no --labels names a label to count)"))
        rows[0].update(described, slices=depth, spacing_from=SPACING_FROM[mask.reference is not None])
    return rows


def measure_path(path: Path, options: MeasureOptions) -> tuple[list[dict[str, Any]], list[str], Mask]:
    """Measure one tag; return its rows, geometry notes and the mask.

    The one computation of a file's numbers: ``measure`` writes its rows,
    ``qc`` (:mod:`itk_tag.batch.qc`) shows them and draws the mask (on its
    reference, whose pixels this read). Raises as :func:`measure_file`.
    """
    mask = load_tag(path, options.reference, options.tolerance, options.force, True, options.pair_table)
    notes = mask.check.notes + mask.check.differences() if mask.check is not None else []
    return measure_mask(mask, options.label_table, path), notes, mask


def measure_file(
    path: str | os.PathLike[str],
    reference: ReferenceSpec = None,
    labels: LabelsSpec = None,
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    force: bool = False,
    pairs: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Measure one tag (rows as :func:`measure_mask`); raises on failure.

    ``reference`` and ``pairs`` are as in :func:`measure`: ``"auto"`` or
    ``pairs`` finding no image is a ReferenceImageError (``None`` measures
    areas only). Raises GeometryMismatchError when the reference's grid is
    not the tag's, TagFileError, ReferenceImageError, UsageError for a
    reference path that does not exist.
    """
    options = MeasureOptions(
        reference=reference, labels=labels, tolerance=tolerance, force=force, pairs=pairs
    )
    return measure_path(Path(path), options)[0]


def measure_failure(
    task: tuple[int, Path, MeasureOptions], reason: str
) -> tuple[int, Outcome, list[dict[str, Any]]]:
    """The outcome and the row of a file that failed for ``reason``."""
    index, path, _ = task
    return index, Outcome(path, Path(), "failed", reason), [_file_row(path, "failed", reason)]


def measure_job(task: tuple[int, Path, MeasureOptions]) -> tuple[int, Outcome, list[dict[str, Any]]]:
    """Measure one file of a batch; never raise: a failing file gets a failed row, the batch goes on."""
    index, path, options = task
    try:
        rows, notes, _ = measure_path(path, options)
    except Exception as error:  # noqa: BLE001 - any failure is this file's, reported and counted
        return measure_failure(task, reason_of(error))
    return index, Outcome(path, Path(), "measured", "", tuple(notes)), rows


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON writes it: a missing value (None, or "" for text: no reference, no name) is null."""
    return {key: None if value == "" else value for key, value in row.items()}


def _row_of_json(row: dict[str, Any]) -> dict[str, Any]:
    """A row read back from JSON as the run holds it: null text columns are "" again."""
    return {key: "" if value is None and key in _TEXT_COLUMNS else value for key, value in row.items()}


_TEXT_COLUMNS = frozenset({"file", "reference", "name", "status", "reason"})
"""The columns whose missing value is "" in a row (None in the others)."""


def write_rows(rows: Sequence[dict[str, Any]], path: Path, overwrite: bool = False) -> None:
    """Write rows, atomically, as CSV (lists joined by ``;``, missing values empty) or JSON (a list
    of objects, missing values null).
    """
    if path.suffix.lower() == ".json":
        rows = [_json_row(row) for row in rows]
    tables.write_table(rows, COLUMNS, path, overwrite)


def read_rows(path: Path) -> list[dict[str, Any]] | None:
    """Read the rows of a table :func:`write_rows` wrote; None when ``path`` is not one (other columns)."""
    try:
        with path.open(newline="", encoding="utf-8") as file:
            if path.suffix.lower() == ".json":
                rows = json.load(file)
                ours = isinstance(rows, list) and all(
                    isinstance(r, dict) and list(r) == list(COLUMNS) for r in rows
                )
                return [_row_of_json(row) for row in rows] if ours else None
            reader = csv.DictReader(file)
            return list(reader) if reader.fieldnames == list(COLUMNS) else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def resumed_rows(destination: Path, options: MeasureOptions) -> list[dict[str, Any]]:
    """The rows an earlier run wrote to ``destination`` that this one keeps: files measured, or without label.

    Raises OutputExistsError when ``destination`` is not such a table,
    OutputOutdatedError when its rows were made with another reference or labels.
    """
    rows = read_rows(destination)
    if rows is None:
        empty = destination.is_file() and destination.stat().st_size == 0
        what = (
            "an empty file (0 bytes)"
            if empty
            else "not a table of itk-tag measure (other columns, or unreadable)"
        )
        raise OutputExistsError(destination, f"in the table's place: {what}; --overwrite replaces it")
    failed = {row["file"] for row in rows if row["status"] not in KEPT}
    kept = [row for row in rows if row["file"] not in failed]
    for row in kept:
        differs = _differs(row, options)
        if differs:
            raise OutputOutdatedError(
                destination, f"output exists, made with other options ({differs}): --overwrite replaces it"
            )
    return kept


def _differs(row: dict[str, Any], options: MeasureOptions) -> str:
    """How a kept row's options differ from this run's, in the options' words ("" when they do not)."""
    reference, now = options.reference, options.typed_reference()
    finds = reference == "auto" or options.pair_table is not None
    if reference is None and not finds and row["reference"]:
        return f"it was made with --reference auto, --pairs or --reference PATH; this run has {now}"
    if finds and not row["reference"] and row["status"] == "measured":
        return f"it was made with --reference none; this run has {now}"
    if reference not in (None, "auto") and Path(row["reference"]) != Path(reference):  # type: ignore[arg-type]
        if not row["reference"]:
            return f"it was made with --reference none; this run has {now}"
        return f"its rows were measured on {row['reference']}; this run has {now}"
    if row["label"] not in ("", None) and row["name"] != options.label_table[int(row["label"])].name:
        now_named = options.label_table[int(row["label"])].name
        return f"label {row['label']} was {row['name']}, --labels names it {now_named}"
    return ""


class Books:
    """The table of a run, written as it goes: whole, atomically, at most every _FLUSH_EVERY seconds."""

    def __init__(
        self, destination: Path | None, files: list[Path], kept: list[dict[str, Any]], fresh: bool
    ) -> None:
        self.destination = destination
        self.order = {os.fspath(file): index for index, file in enumerate(files)}
        self.rows: dict[int, list[dict[str, Any]]] = {}
        for position, row in enumerate(kept):
            self.rows.setdefault(self.order.get(row["file"], len(files) + position), []).append(row)
        self.overwrite = not fresh
        self.written = 0.0

    def add(self, index: int, rows: list[dict[str, Any]]) -> None:
        """Keep a file's rows (by its index in the run) and write the table when it is due."""
        self.rows[index] = rows
        if time.monotonic() - self.written >= _FLUSH_EVERY:
            self.flush()

    def all(self) -> list[dict[str, Any]]:
        """Every row kept, in the order of the run's files."""
        return [row for index in sorted(self.rows) for row in self.rows[index]]

    def flush(self) -> None:
        """Write the table now (atomically), when the run has one."""
        if self.destination is not None:
            write_rows(self.all(), self.destination, self.overwrite)
            self.overwrite = True
        self.written = time.monotonic()


def measure(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    options: MeasureOptions | None = None,
    *,
    wide: str | os.PathLike[str] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    **settings: Any,
) -> Measurements:
    """Measure tag files -- files or folders, searched recursively -- one row per file and label.

    Rows are those of :func:`measure_mask` in input order, with a row of
    status ``failed`` and its reason for a file that failed, in the returned
    Measurements' ``rows`` (``to_dataframe()`` with pandas). ``output``, a
    ``.csv`` or ``.json`` path, receives them as the run goes: each write is
    atomic, the last one holds every row, an interrupt keeps the rows
    measured. The settings are ``options`` or, as keyword arguments, the
    fields of :class:`~itk_tag.batch.options.MeasureOptions`: ``reference``,
    ``None``/``"none"`` measures areas only, ``"auto"`` the image named after
    each tag, else the DICOM image of its folder that it lies on
    (:mod:`itk_tag.batch.pairing`), a path that image for every tag; ``pairs``,
    a CSV file of ``tag,reference`` rows naming each tag's image. With
    ``"auto"`` or ``pairs``, a tag whose image is not found is a failed file
    (its row says why). ``labels``, ``tolerance``, ``force``, ``overwrite``,
    ``jobs`` and ``progress`` as for :func:`itk_tag.convert`; ``subjects``
    and ``smi_label`` for the wide table.

    Rows have the CT's ``patient_id``, ``study_date``, ``series_description``,
    ``slice_thickness_mm`` and ``kvp`` (None where absent, see
    :mod:`itk_tag.batch.ct_fields`) and ``spacing_from`` (``reference`` or
    ``tag``: whose spacing the areas use). ``wide``, a ``.csv`` or ``.json``
    path, receives the wide table at the end (one row per file:
    :meth:`Measurements.wide`), replacing the file there.

    When ``output`` is a table an earlier run wrote (and ``overwrite`` is
    false), the run resumes it: files with rows of status ``measured`` or
    ``no label`` keep them (as read from the table: strings), the others are
    measured. Raises UsageError for missing inputs or an output that is
    neither .csv nor .json, OutputExistsError if ``output`` is another file,
    OutputOutdatedError if it was made with another reference or labels
    (before anything is measured), RunInterrupted (a KeyboardInterrupt, with
    the Measurements) on SIGINT or SIGTERM.
    """
    options = options if options is not None else MeasureOptions(**settings)
    sources = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    destination = Path(output) if output is not None else None
    for table in (destination, Path(wide) if wide is not None else None):
        if table is not None and table.suffix.lower().lstrip(".") not in OUTPUT_FORMATS:
            raise UsageError(f"{table}: the tables of measure end in .csv or .json")
    if destination is not None and wide is not None and Path(wide).resolve() == destination.resolve():
        raise UsageError(f"{wide}: the wide table cannot be the long table's file (-o)")
    if wide is not None and Path(wide).exists() and not options.overwrite and not is_wide_table(Path(wide)):
        raise OutputExistsError(
            Path(wide), "exists and is not a wide table of itk-tag: --overwrite replaces it"
        )
    files = [
        file
        for file, _ in runner.input_files(sources, lambda path: formats.format_of(path, ("tag",)) is not None)
    ]
    resuming = destination is not None and destination.exists() and not options.overwrite
    kept = resumed_rows(destination, options) if resuming else []  # type: ignore[arg-type]
    if destination is not None:
        writers.sweep(destination.parent)
    books = Books(destination, files, kept, fresh=not resuming and not options.overwrite)
    done = {row["file"] for row in kept}
    tasks = [(index, file, options) for index, file in enumerate(files) if os.fspath(file) not in done]
    measurements = Measurements(total=len(tasks), kept=len(done), options=options)
    forget()  # files may have changed since an earlier run in this process
    outcomes: dict[int, Outcome] = {}

    def record(result: tuple[int, Outcome, list[dict[str, Any]]]) -> None:
        index, outcome, rows = result
        outcomes[index] = outcome
        books.add(index, rows)
        if on_outcome is not None:
            on_outcome(outcome)

    try:
        runner.tally(
            measurements,
            runner.run(measure_job, tasks, measure_failure, options.jobs, options.progress, "measure"),
            record,
        )
    finally:
        measurements.outcomes = [outcomes[index] for index in sorted(outcomes)]
        measurements.rows = books.all()
        books.flush()
    if wide is not None:
        measurements.wide().write(wide, overwrite=True)
    return measurements
