"""Body-composition measurements: per tag and label, voxels, areas, volume and the CT's HU statistics.

The numbers are SimpleITK's label statistics, not our own arithmetic:
``LabelShapeStatisticsImageFilter`` counts voxels and gives their physical
size (the area of a 2D slice, the volume of the 3D mask) and
``LabelIntensityStatisticsImageFilter`` the HU mean, SD (n - 1), minimum,
maximum and median inside each label. The mask is read and put on its
reference's grid exactly as ``convert`` does (:func:`itk_tag.sources.load_tag`).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import batch
from .atomic import OutputExistsError, atomic_output
from .conversion import Outcome, Report, reason_of
from .dicom import ReferenceImageError, find_reference, read_reference_image
from .geometry import DEFAULT_TOLERANCE, Tolerance
from .image import to_image
from .labels import LabelsSpec, LabelTable, load_labels
from .plan import UsageError, input_files
from .reference import ReferenceSpec
from .sources import Mask, load_tag

if TYPE_CHECKING:
    import pandas
    import SimpleITK

COLUMNS = (
    "file", "reference", "label", "name", "slices", "voxels", "area_cm2", "slice_areas_cm2",
    "volume_cm3", "hu_mean", "hu_sd", "hu_min", "hu_max", "hu_median",
)  # fmt: skip
"""The fields of a row, in the order of the CSV columns."""

OUTPUT_FORMATS = ("csv", "json")

# Bins of the histogram the median is read from: one per value of a 16-bit image.
_BINS = 1 << 16


@dataclass(frozen=True)
class Settings:
    """What every file of a run shares (picklable, for worker processes)."""

    reference: Optional[str]
    labels: LabelTable
    tolerance: Tolerance
    force: bool


@dataclass
class Measurements(Report):
    """The rows of a :func:`measure` run, and every file's outcome (``measured`` or ``failed``)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    done: str = "measured"

    def summary(self) -> str:
        """``N measured, N failed``, and how many files had no reference (areas only)."""
        bare = len({row["file"] for row in self.rows if not row["reference"]})
        text = super().summary()
        return f"{text} ({bare} without a reference image: areas only, no HU)" if bare else text

    def to_dataframe(self) -> pandas.DataFrame:
        """Return the rows as a pandas DataFrame (columns COLUMNS); ImportError without pandas."""
        try:
            import pandas
        except ImportError:
            raise ImportError("to_dataframe needs pandas (pip install pandas); .rows has the same") from None
        return pandas.DataFrame(self.rows, columns=list(COLUMNS))


def _hounsfield(ct: SimpleITK.Image, where: Path) -> SimpleITK.Image:
    """The CT as int16 when its values are whole numbers that fit (the median is then exact), else float64."""
    import SimpleITK

    if ct.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(f"{where}: {ct.GetNumberOfComponentsPerPixel()} components per pixel, not a CT")
    extremes = SimpleITK.MinimumMaximumImageFilter()
    extremes.Execute(ct)
    integer = "integer" in ct.GetPixelIDTypeAsString()
    if integer and -32768 <= extremes.GetMinimum() and extremes.GetMaximum() <= 32767:
        # With one histogram bin per int16 value, ITK's median is the exact one.
        return SimpleITK.Cast(ct, SimpleITK.sitkInt16)
    return SimpleITK.Cast(ct, SimpleITK.sitkFloat64)


def _slice_areas(mask: SimpleITK.Image) -> list[dict[int, float]]:
    """Per slice k (mask order): {label: area in mm²}, from LabelShapeStatistics of the 2D slice."""
    import SimpleITK

    shape = SimpleITK.LabelShapeStatisticsImageFilter()
    areas = []
    for k in range(mask.GetSize()[2]):
        shape.Execute(mask[:, :, k])
        areas.append({int(v): shape.GetPhysicalSize(v) for v in shape.GetLabels()})
    return areas


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
      are whole numbers), else to within a 65536th of the CT's value range.
    """
    import SimpleITK

    image = to_image(mask.voxels, mask.grid, {})
    intensity = None
    if mask.reference is not None:
        ct = read_reference_image(mask.reference)
        # The mask is on this grid by construction; ITK's reader is the one
        # that defines it exactly (slice spacing of a series included).
        image.CopyInformation(ct)
        intensity = SimpleITK.LabelIntensityStatisticsImageFilter()
        intensity.SetNumberOfBins(_BINS)
        intensity.Execute(image, _hounsfield(ct, mask.reference.path))
    shape = SimpleITK.LabelShapeStatisticsImageFilter()
    shape.Execute(image)
    present = {int(v) for v in shape.GetLabels()}
    slices = _slice_areas(image)
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
            "voxels": shape.GetNumberOfPixels(value) if here else 0,
            "area_cm2": sum(per_slice) if depth > 1 else per_slice[0],
            "slice_areas_cm2": per_slice,
            "volume_cm3": (shape.GetPhysicalSize(value) / 1000.0 if here else 0.0) if depth > 1 else None,
        }
        measured = intensity is not None and here
        for column, statistic in (
            ("hu_mean", "GetMean"),
            ("hu_sd", "GetStandardDeviation"),
            ("hu_min", "GetMinimum"),
            ("hu_max", "GetMaximum"),
            ("hu_median", "GetMedian"),
        ):
            row[column] = float(getattr(intensity, statistic)(value)) if measured else None
        rows.append(row)
    return rows


def _measure(path: Path, settings: Settings) -> tuple[list[dict[str, Any]], list[str], str]:
    """Measure one tag; return its rows, geometry notes, and why it has no HU ("" when it has them)."""
    reference: ReferenceSpec = settings.reference
    missing = ""
    if reference == "auto":
        try:
            reference = find_reference(path)
        except ReferenceImageError as error:
            reference = None
            missing = f"{error}: areas only, no HU statistics"
    mask = load_tag(path, reference, settings.tolerance, settings.force)
    notes = mask.check.notes + mask.check.differences() if mask.check is not None else []
    return measure_mask(mask, settings.labels, path), notes, missing


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
    ReferenceImageError.
    """
    settings = Settings(
        None if reference is None else os.fspath(reference), load_labels(labels), tolerance, force
    )
    return _measure(Path(path), settings)[0]


def _run(task: tuple[int, Path, Settings]) -> tuple[int, Outcome, list[dict[str, Any]]]:
    """Measure one file of a batch; never raise (a failing file must not stop the batch)."""
    index, path, settings = task
    try:
        rows, notes, missing = _measure(path, settings)
    except Exception as error:  # noqa: BLE001 - any failure is this file's, reported and counted
        return index, Outcome(path, Path(), "failed", reason_of(error)), []
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
    with atomic_output(path, output_format, overwrite) as temporary:
        with temporary.open("w", newline="", encoding="utf-8") as file:
            if output_format == "json":
                json.dump(list(rows), file, indent=1)
                file.write("\n")
                return
            writer = csv.DictWriter(file, COLUMNS)
            writer.writeheader()
            writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)


def measure(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    *,
    reference: ReferenceSpec = None,
    labels: LabelsSpec = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    force: bool = False,
    overwrite: bool = False,
    jobs: int = 1,
    progress: bool | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Measurements:
    """Measure tag files -- files or folders, searched recursively -- one row per file and label.

    Rows are those of :func:`measure_mask`, in input order, in the returned
    Measurements' ``rows`` (``to_dataframe()`` with pandas). ``output``, a
    ``.csv`` or ``.json`` path, receives them atomically (also when some file
    failed: the failures are in the Measurements and passed to
    ``on_outcome``). ``reference``: ``None``/``"none"`` measures areas only,
    ``"auto"`` the image beside each tag (areas only where there is none), a
    path that image for every tag. ``tolerance``, ``force``, ``jobs`` and
    ``progress`` are as for :func:`itk_tag.convert`.

    Raises UsageError for missing inputs or an output that is neither .csv nor
    .json, OutputExistsError if ``output`` exists and ``overwrite`` is false
    (before anything is measured).
    """
    sources = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    destination = Path(output) if output is not None else None
    if destination is not None:
        if destination.suffix.lower().lstrip(".") not in OUTPUT_FORMATS:
            raise UsageError(f"{destination}: the output of measure ends in .csv or .json")
        if destination.exists() and not overwrite:
            raise OutputExistsError(destination)
    files = [file for file, _ in input_files(sources)]
    settings = Settings(
        None if reference is None else os.fspath(reference), load_labels(labels), tolerance, force
    )
    tasks = [(index, file, settings) for index, file in enumerate(files)]
    results = []
    for result in batch.run(_run, tasks, jobs=jobs, progress=progress, description="measure"):
        results.append(result)
        if on_outcome is not None:
            on_outcome(result[1])
    results.sort(key=lambda result: result[0])
    measurements = Measurements(
        outcomes=[outcome for _, outcome, _ in results], rows=[row for *_, rows in results for row in rows]
    )
    if destination is not None:
        write_rows(measurements.rows, destination, overwrite)
    return measurements
