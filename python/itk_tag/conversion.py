"""Converting masks: one file (:func:`convert_file`) or many (:func:`convert`)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import batch
from .atomic import OutputExistsError, atomic_output
from .dicom import itk_reason
from .dicomseg import SEG_TYPES, SegOptions
from .formats import format_of, normalize_format
from .geometry import DEFAULT_TOLERANCE, Tolerance
from .labels import LabelsSpec, LabelTable, load_labels
from .plan import Job, UsageError, plan
from .reference import GeometryCheck, ReferenceSpec
from .sources import load
from .writers import write_mask


def convert_file(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    format: str | None = None,
    reference: ReferenceSpec = None,
    labels: LabelsSpec = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    force: bool = False,
    overwrite: bool = False,
    seg_type: str = "binary",
    seg_series_description: str = SegOptions.series_description,
) -> GeometryCheck | None:
    """Convert one mask; return the geometry check when a reference was used.

    ``source`` is a ``.tag`` file or, to write a ``.tag``, any label image ITK
    reads (or a ``.seg.nrrd``). ``format`` defaults to the extension of
    ``destination``. ``reference``, ``tolerance`` and ``force`` are as in
    :func:`itk_tag.read` (they apply to ``.tag`` sources); ``labels`` names
    the segments of a ``.seg.nrrd`` or DICOM SEG (see
    :func:`itk_tag.labels.load_labels`). A DICOM SEG (``dcm``) needs a
    ``reference`` (its DICOM images); ``seg_type`` (``binary`` or
    ``labelmap``) and ``seg_series_description`` describe it.

    The output appears whole or not at all. Raises OutputExistsError if it
    exists and ``overwrite`` is false; the error of the failing step otherwise.
    """
    source, destination = Path(source), Path(destination)
    output_format = normalize_format(format) if format else format_of(destination)
    if output_format is None:
        raise ValueError(f"{destination}: unknown output format (give format=, one of the known extensions)")
    seg = SegOptions(seg_type, seg_series_description)
    _check_dicom_seg(output_format, reference, seg, source)
    if destination.exists() and not overwrite:
        raise OutputExistsError(destination)
    if destination.resolve() == source.resolve():
        raise ValueError(f"{destination}: the output would replace its input")
    mask = load(source, reference, tolerance, force)
    if mask.reference is not None and destination.resolve() in {f.resolve() for f in mask.reference.files}:
        raise ValueError(f"{destination}: the output would replace its reference image")
    with atomic_output(destination, output_format, overwrite) as temporary:
        write_mask(mask, temporary, output_format, load_labels(labels), seg)
    return mask.check


def _check_dicom_seg(
    output_format: str, reference: ReferenceSpec, seg: SegOptions, source: Path | None = None
) -> None:
    """Refuse a DICOM SEG that cannot be made, before anything is read (UsageError, a ValueError)."""
    if output_format != "dcm":
        return
    if seg.segmentation_type not in SEG_TYPES:
        known = ", ".join(SEG_TYPES)
        raise UsageError(f"unknown segmentation type {seg.segmentation_type!r} (one of: {known})")
    if reference is None or reference == "none":
        raise UsageError(
            "--format dcm (a DICOM SEG) references the DICOM images the tags were drawn on: "
            "give --reference auto or --reference PATH"
        )
    if source is not None and format_of(source, ("tag",)) is None:
        raise ValueError(f"{source}: a DICOM SEG is made from a .tag file, not from a label image")


@dataclass(frozen=True)
class Settings:
    """What every job of a batch shares (picklable, for worker processes)."""

    output_format: str
    reference: Optional[str]
    labels: LabelTable
    tolerance: Tolerance
    force: bool
    overwrite: bool
    seg: SegOptions


@dataclass(frozen=True)
class Outcome:
    """What became of one job: ``written``, ``skipped`` (the output exists) or ``failed``."""

    source: Path
    destination: Path
    status: str
    reason: str = ""
    notes: tuple[str, ...] = ()

    def message(self) -> str:
        """``path: reason`` -- the reason alone when it already names the file."""
        if str(self.source) in self.reason:
            return self.reason
        return f"{self.source}: {self.reason}"


def reason_of(error: BaseException) -> str:
    """Return the one-line reason an exception gives."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return itk_reason(error) or type(error).__name__


def run_job(job_and_settings: tuple[Job, Settings]) -> Outcome:
    """Run one job and report its outcome; never raise (a failing file must not stop the batch)."""
    job, settings = job_and_settings
    try:
        check = convert_file(
            job.source,
            job.destination,
            format=settings.output_format,
            reference=settings.reference,
            labels=settings.labels,
            tolerance=settings.tolerance,
            force=settings.force,
            overwrite=settings.overwrite,
            seg_type=settings.seg.segmentation_type,
            seg_series_description=settings.seg.series_description,
        )
    except OutputExistsError:
        return Outcome(job.source, job.destination, "skipped", "output exists")
    except Exception as error:  # noqa: BLE001 - any failure is this file's, reported and counted
        return Outcome(job.source, job.destination, "failed", reason_of(error))
    notes = tuple(check.notes + check.differences()) if check is not None else ()
    return Outcome(job.source, job.destination, "written", notes=notes)


@dataclass
class Report:
    """The outcomes of a :func:`convert` run."""

    outcomes: list[Outcome] = field(default_factory=list)
    done: str = "written"
    """The status of a job that did its work."""

    def count(self, status: str) -> int:
        """How many jobs ended with ``status``."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def failed(self) -> list[Outcome]:
        """The jobs that failed."""
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]

    @property
    def ok(self) -> bool:
        """True when no job failed (skipped outputs are not failures)."""
        return not self.failed

    def summary(self) -> str:
        """``N written, N skipped (output exists), N failed`` (``measured`` for :func:`itk_tag.measure`)."""
        counts = Counter(outcome.status for outcome in self.outcomes)
        skipped = (
            f", {counts['skipped']} skipped (output exists; --overwrite replaces)"
            if counts["skipped"]
            else ""
        )
        return f"{counts[self.done]} {self.done}{skipped}, {counts['failed']} failed"


def _duplicates(jobs: list[Job]) -> dict[Job, str]:
    """Jobs that cannot run: their output is another job's output, or an input."""
    sources = {job.source.resolve(): job for job in jobs}
    claimed: dict[Path, Job] = {}
    problems = {}
    for job in jobs:
        target = job.destination.resolve()
        if target in sources:
            problems[job] = f"its output {job.destination} would replace the input {sources[target].source}"
        elif target in claimed:
            problems[job] = f"its output {job.destination} is also the output of {claimed[target].source}"
        else:
            claimed[target] = job
    return problems


def convert(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    format: str | None = None,
    reference: ReferenceSpec = None,
    labels: LabelsSpec = None,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    force: bool = False,
    overwrite: bool = False,
    jobs: int = 1,
    progress: bool | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    seg_type: str = "binary",
    seg_series_description: str = SegOptions.series_description,
) -> Report:
    """Convert tag files (or, to ``.tag``, label images) -- files or folders -- into ``output``.

    ``output`` is a file for one input file, else a folder where folder inputs
    are mirrored (see :func:`itk_tag.plan.plan`); ``format`` is the output
    format when ``output`` is a folder (``nrrd``, ``seg.nrrd``, ``nii.gz``,
    ``nii``, ``mha``, ``tag``, ``dcm``; default ``nrrd``). The other options are those
    of :func:`convert_file`; ``jobs`` > 1 converts in that many processes;
    ``progress`` shows a progress bar (default: when stderr is a terminal).

    A failing file does not stop the run: every outcome is in the returned
    Report (and passed to ``on_outcome`` as it comes). Raises UsageError when
    inputs and output do not fit together (or a DICOM SEG has no
    ``reference``), LabelsError for unusable labels.
    """
    sources = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    planned = plan(sources, output, format)
    seg = SegOptions(seg_type, seg_series_description)
    _check_dicom_seg(planned.output_format, reference, seg)
    settings = Settings(
        output_format=planned.output_format,
        reference=None if reference is None else os.fspath(reference),
        labels=load_labels(labels),
        tolerance=tolerance,
        force=force,
        overwrite=overwrite,
        seg=seg,
    )
    report = Report()

    def record(outcome: Outcome) -> None:
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    problems = _duplicates(planned.jobs)
    for job, problem in problems.items():
        record(Outcome(job.source, job.destination, "failed", problem))
    runnable = [(job, settings) for job in planned.jobs if job not in problems]
    for outcome in batch.run(run_job, runnable, jobs=jobs, progress=progress, description="convert"):
        record(outcome)
    return report
