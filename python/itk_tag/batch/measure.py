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
from typing import TYPE_CHECKING, Any, Callable

from ..errors import OutputExistsError, OutputOutdatedError, ReferenceImageError, UsageError, reason_of
from . import runner, writers
from .convert import Mask, load_tag
from .labels import LabelsSpec, LabelTable
from .options import MeasureOptions
from .reference import DEFAULT_TOLERANCE, ReferenceSpec, Tolerance, find_reference
from .runner import Outcome, Report
from .statistics import label_statistics

if TYPE_CHECKING:
    import pandas

COLUMNS = (
    "file", "reference", "label", "name", "slices", "voxels", "area_cm2", "slice_areas_cm2",
    "volume_cm3", "hu_mean", "hu_sd", "hu_min", "hu_max", "hu_median", "status", "reason",
)  # fmt: skip
"""The fields of a row, in the order of the CSV columns."""

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

    def details(self) -> str:
        """How many files had no reference (areas only), and how many were kept from an earlier run."""
        bare = len({row["file"] for row in self.rows if row["status"] == "measured" and not row["reference"]})
        text = f" ({bare} without a reference image: areas only, no HU)" if bare else ""
        return f"{text}; {self.kept} kept from the earlier run" if self.kept else text

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
    rows = []
    for value in sorted(present | set(labels.labels)):
        here = value in present
        per_slice = [areas.get(value, 0.0) / 100.0 for areas in slices]
        row: dict[str, Any] = {
            "file": os.fspath(source),
            "reference": os.fspath(mask.reference.path) if mask.reference is not None else "",
            "label": value,
            "name": labels[value].name,
            "slices": depth,
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
        rows[0].update(
            reference=os.fspath(mask.reference.path) if mask.reference is not None else "", slices=depth
        )
    return rows


def _measure(path: Path, options: MeasureOptions) -> tuple[list[dict[str, Any]], list[str], str]:
    """Measure one tag; return its rows, geometry notes, and why it has no HU ("" when it has them)."""
    reference = options.reference
    missing = ""
    if reference == "auto":
        try:
            reference = os.fspath(find_reference(path))
        except ReferenceImageError as error:
            reference = None
            missing = f"{error}: areas only, no HU statistics"
    mask = load_tag(path, reference, options.tolerance, options.force, pixels=True)
    notes = mask.check.notes + mask.check.differences() if mask.check is not None else []
    rows = measure_mask(mask, options.label_table, path)
    if missing:
        for row in rows:
            row["reason"] = row["reason"] or missing
    return rows, notes, missing


def measure_file(
    path: str | os.PathLike[str],
    reference: ReferenceSpec = None,
    labels: LabelsSpec = None,
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Measure one tag (rows as :func:`measure_mask`); raises on failure.

    ``reference`` is as in :func:`itk_tag.read`, except that ``"auto"`` with no
    image beside the tag measures areas only. Raises GeometryMismatchError
    when the reference's grid is not the tag's, TagFileError,
    ReferenceImageError, UsageError for a reference path that does not exist.
    """
    options = MeasureOptions(reference=reference, labels=labels, tolerance=tolerance, force=force)
    return _measure(Path(path), options)[0]


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
        rows, notes, missing = _measure(path, options)
    except Exception as error:  # noqa: BLE001 - any failure is this file's, reported and counted
        return measure_failure(task, reason_of(error))
    return index, Outcome(path, Path(), "measured", missing, tuple(notes)), rows


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value


def write_rows(rows: Sequence[dict[str, Any]], path: Path, overwrite: bool = False) -> None:
    """Write rows, atomically, as CSV (lists joined by ``;``, None empty) or JSON (a list of objects)."""
    output_format = path.suffix.lower().lstrip(".")
    with writers.atomic_output(path, output_format, overwrite) as temporary:
        with temporary.open("w", newline="", encoding="utf-8") as file:
            if output_format == "json":
                json.dump(list(rows), file, indent=1)
                file.write("\n")
                return
            writer = csv.DictWriter(file, COLUMNS)
            writer.writeheader()
            writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)


def read_rows(path: Path) -> list[dict[str, Any]] | None:
    """Read the rows of a table :func:`write_rows` wrote; None when ``path`` is not one (other columns)."""
    try:
        with path.open(newline="", encoding="utf-8") as file:
            if path.suffix.lower() == ".json":
                rows = json.load(file)
                ours = isinstance(rows, list) and all(
                    isinstance(r, dict) and list(r) == list(COLUMNS) for r in rows
                )
                return rows if ours else None
            reader = csv.DictReader(file)
            return list(reader) if reader.fieldnames == list(COLUMNS) else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _resumed(destination: Path, options: MeasureOptions) -> list[dict[str, Any]]:
    """The rows an earlier run wrote to ``destination`` that this one keeps: files measured, or without label.

    Raises OutputExistsError when ``destination`` is not such a table,
    OutputOutdatedError when its rows were made with another reference or labels.
    """
    rows = read_rows(destination)
    if rows is None:
        raise OutputExistsError(destination)
    failed = {row["file"] for row in rows if row["status"] not in KEPT}
    kept = [row for row in rows if row["file"] not in failed]
    for row in kept:
        reference = options.reference
        if (
            reference is None
            and row["reference"]
            or reference not in (None, "auto")
            and Path(row["reference"]) != Path(reference)
        ):  # type: ignore[arg-type]
            differs = f"reference {row['reference'] or 'none'} -> {reference or 'none'}"
        elif row["label"] not in ("", None) and row["name"] != options.label_table[int(row["label"])].name:
            differs = f"label {row['label']} {row['name']} -> {options.label_table[int(row['label'])].name}"
        else:
            continue
        raise OutputOutdatedError(
            destination, f"output exists, made with other options ({differs}): --overwrite replaces it"
        )
    return kept


class _Books:
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
        self.rows[index] = rows
        if time.monotonic() - self.written >= _FLUSH_EVERY:
            self.flush()

    def all(self) -> list[dict[str, Any]]:
        return [row for index in sorted(self.rows) for row in self.rows[index]]

    def flush(self) -> None:
        if self.destination is not None:
            write_rows(self.all(), self.destination, self.overwrite)
            self.overwrite = True
        self.written = time.monotonic()


def measure(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    options: MeasureOptions | None = None,
    *,
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
    ``None``/``"none"`` measures areas only, ``"auto"`` the image beside each
    tag (areas only where there is none), a path that image for every tag;
    ``labels``, ``tolerance``, ``force``, ``overwrite``, ``jobs`` and
    ``progress`` as for :func:`itk_tag.convert`.

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
    if destination is not None and destination.suffix.lower().lstrip(".") not in OUTPUT_FORMATS:
        raise UsageError(f"{destination}: the output of measure ends in .csv or .json")
    files = [
        file
        for file, _ in runner.input_files(sources, lambda path: writers.format_of(path, ("tag",)) is not None)
    ]
    resuming = destination is not None and destination.exists() and not options.overwrite
    kept = _resumed(destination, options) if resuming else []  # type: ignore[arg-type]
    if destination is not None:
        writers.sweep(destination.parent)
    books = _Books(destination, files, kept, fresh=not resuming and not options.overwrite)
    done = {row["file"] for row in kept}
    tasks = [(index, file, options) for index, file in enumerate(files) if os.fspath(file) not in done]
    measurements = Measurements(total=len(tasks), kept=len(done))
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
    return measurements
