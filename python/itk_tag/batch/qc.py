"""``itk-tag qc``: look at every mask -- one overlay picture per file, and flags for a person to check.

A qc run is a ``measure`` run that also draws: each file's numbers come from
:func:`itk_tag.batch.measure.measure_path`, the one computation ``measure``
makes (its rows, its CT read), and the picture is drawn from the mask and CT
that computation read (:mod:`.overlay`). Same input rules, options, runner
(``--jobs``, progress, interrupts) and resume as ``measure``. A qc folder
holds:

* ``measurements.csv``: ``measure``'s table, written as the run goes (so an
  interrupted run keeps what it did and a rerun resumes it);
* ``images/<input folder>/<name>.png``: the overlays (:mod:`.overlay`); each
  records in its text chunks what it shows and the geometry result, so a
  resumed run reports kept files without measuring them again;
* ``flags.csv``: ``file,flag,label,reason``, one row per flag (:func:`.flags.find_flags`);
* ``index.html``: the cohort report (:mod:`.report`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import GeometryMismatchError, OutputExistsError, OutputOutdatedError, UsageError, reason_of
from . import formats, overlay, runner, writers
from .convert import Job, clashes
from .flags import DEFAULT_OUTLIER_K, FileQc, Flag, find_flags, write_flags
from .labels import LabelTable
from .mask import Mask
from .measure import Books, Measurements, measure_failure, measure_path, resumed_rows
from .options import MeasureOptions
from .pairing import forget
from .report import Run, write_report
from .runner import Outcome

TABLE = "measurements.csv"
FLAGS = "flags.csv"
REPORT = "index.html"
IMAGES = "images"

_WINDOW_KEY = "itk-tag:window"
_GEOMETRY_KEY = "itk-tag:geometry"
_PROBLEM_KEY = "itk-tag:geometry-problem"


@dataclass(frozen=True)
class QcOptions(MeasureOptions):
    """The options of ``qc``: those of ``measure``, the CT window, and k of the area-outlier rule.

    ``window`` is (W, L) in HU, W > 0; ``outlier_k`` > 0. Raises UsageError.
    """

    window: tuple[float, float] = overlay.DEFAULT_WINDOW
    outlier_k: float = DEFAULT_OUTLIER_K

    def __post_init__(self) -> None:
        super().__post_init__()
        width, level = (float(v) for v in self.window)
        if not (width > 0 and math.isfinite(width) and math.isfinite(level)):
            raise UsageError(f"--window {width:g}/{level:g}: the width must be a number > 0")
        object.__setattr__(self, "window", (width, level))
        if not (self.outlier_k > 0 and math.isfinite(self.outlier_k)):
            raise UsageError(f"--outlier-k must be a number > 0, not {self.outlier_k}")

    @property
    def window_text(self) -> str:
        """``W/L`` as the command line takes it (``400/40``)."""
        return "/".join(f"{v:g}" for v in self.window)


def parse_window(text: str) -> tuple[float, float]:
    """Parse ``W/L`` (``400/40``, ``1500/-600``) into (W, L); ValueError otherwise."""
    width, separator, level = text.partition("/")
    try:
        if separator:
            return float(width), float(level)
    except ValueError:
        pass
    raise ValueError(f"expected W/L in HU, e.g. 400/40, not {text!r}")


@dataclass
class QcReport(Measurements):
    """The outcome of a :func:`qc` run: measure's rows and outcomes, every file's entry, the flags."""

    files: list[FileQc] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    folder: Path = Path()

    @property
    def flagged(self) -> int:
        """How many files have at least one flag."""
        return len({flag.file for flag in self.flags})

    def summary(self) -> str:
        """Measure's summary, then the flagged files and where the report is.

        ``2 measured, 0 failed; 0 flagged; report: out/qc/index.html``.
        """
        return f"{super().summary()}; {self.flagged} flagged; report: {self.folder / REPORT}"


def picture_path(folder: Path, relative: Path, source: Path) -> Path:
    """Where the overlay of ``source`` (found in ``relative`` below its input folder) goes."""
    return folder / IMAGES / relative / formats.output_name(source, "png")


def _chosen_slice(mask: Mask) -> tuple[int, int]:
    """The slice (in the mask's order) with the most labelled voxels, and its number in the tag's order."""
    depth = mask.voxels.shape[0]
    counts = np.count_nonzero(mask.voxels.reshape(depth, -1), axis=1)
    chosen = int(np.argmax(counts))  # the first of equals
    flipped = mask.check is not None and mask.check.reversed_slices
    return chosen, depth - 1 - chosen if flipped else chosen


def _geometry(mask: Mask) -> tuple[str, str]:
    """The geometry result of a measured mask, for a person, and the problem the ``geometry`` flag shows."""
    if mask.check is None:
        return "no CT", ""
    if mask.check.ok:
        return "same grid", ""
    differences = "; ".join(mask.check.differences())
    return (
        f"forced onto the CT's grid (--force): {differences}",
        f"put on the CT's grid by --force: {differences}",
    )


def _legend(rows: list[dict[str, Any]], table: LabelTable, index: int) -> list[overlay.LegendEntry]:
    return [
        overlay.LegendEntry(
            row["label"],
            row["name"],
            overlay.rgb_of(table[row["label"]].color),
            row["slice_areas_cm2"][index],
        )
        for row in rows
        if row["label"] is not None
    ]


def draw(
    mask: Mask, rows: list[dict[str, Any]], table: LabelTable, title: str, window: tuple[float, float]
) -> overlay.Picture:
    """The overlay of a measured mask: the slice with most labelled voxels, over its CT when it has one."""
    chosen, number = _chosen_slice(mask)
    depth = mask.voxels.shape[0]
    hu = None
    if mask.reference is not None:
        import SimpleITK

        hu = SimpleITK.GetArrayViewFromImage(mask.reference.image())[chosen]
    shown = f"slice {number + 1} of {depth}, " if depth > 1 else ""
    shown += f"W {window[0]:g} L {window[1]:g}" if hu is not None else "no CT"
    legend = _legend(rows, table, number)
    return overlay.picture(mask.voxels[chosen], hu, mask.grid, table, legend, title, shown, window)


Task = tuple[int, Path, str, Path, QcOptions]
"""(index, the tag, its title, its picture's path, the options)."""
Result = tuple[int, Outcome, list[dict[str, Any]], dict[str, Any]]


def qc_failure(task: Task, reason: str, problem: str = "") -> Result:
    """The result of a file that failed for ``reason`` (``problem``: it is a geometry mismatch)."""
    index, path, title, _, options = task
    _, outcome, rows = measure_failure((index, path, options), reason)
    return (
        index,
        outcome,
        rows,
        {"title": title, "problem": problem, "geometry": problem and "DIFFERENT grids"},
    )


def qc_job(task: Task) -> Result:
    """Measure one file (measure's computation) and draw its overlay; never raise (a failure is a result)."""
    index, path, title, destination, options = task
    try:
        rows, notes, mask = measure_path(path, options)
        drawn = draw(mask, rows, options.label_table, title, options.window)
        geometry, problem = _geometry(mask)
        drawn.text.update({_WINDOW_KEY: options.window_text, _GEOMETRY_KEY: geometry, _PROBLEM_KEY: problem})
        overlay.write_png(drawn, destination, overwrite=True)
    except GeometryMismatchError as error:
        return qc_failure(task, reason_of(error), reason_of(error))
    except Exception as error:  # noqa: BLE001 - any failure is this file's, reported and counted
        return qc_failure(task, reason_of(error))
    facts = {
        "title": title,
        "size": (drawn.pixels.shape[1], drawn.pixels.shape[0]),
        "geometry": geometry,
        "problem": problem,
        "shown": drawn.text["itk-tag:shown"],
    }
    return index, Outcome(path, destination, "measured", "", tuple(notes)), rows, facts


def _claim(folder: Path, options: QcOptions) -> bool:
    """Whether ``folder`` holds an earlier run to resume; OutputExistsError when it is not a qc folder."""
    table = folder / TABLE
    if options.overwrite or not folder.exists():
        return False
    if table.exists():
        return True
    if folder.is_dir() and not any(folder.iterdir()):
        return False
    raise OutputExistsError(
        folder, "exists and is not an itk-tag qc folder (no measurements.csv): give another -o"
    )


def _kept_entry(
    rows: list[dict[str, Any]], path: Path, title: str, picture: Path, folder: Path, options: QcOptions
) -> FileQc | None:
    """A kept file's entry, from its picture's text chunks; None when its picture is gone or incomplete."""
    text = overlay.read_text(picture)
    if text is None:
        return None
    made = text.get(_WINDOW_KEY, "")
    if made != options.window_text:
        raise OutputOutdatedError(
            picture, f"output exists, made with other options (window {made} -> {options.window_text}): "
            "--overwrite replaces it"
        )  # fmt: skip
    from PIL import Image

    with Image.open(picture) as image:
        size = image.size
    return FileQc(
        os.fspath(path),
        title,
        picture.relative_to(folder).as_posix(),
        size,
        text.get(_GEOMETRY_KEY, ""),
        text.get(_PROBLEM_KEY, ""),
        text.get("itk-tag:shown", ""),
        rows,
    )


def qc(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    options: QcOptions | None = None,
    *,
    on_outcome: Callable[[Outcome], None] | None = None,
    **settings: Any,
) -> QcReport:
    """Measure and draw tag files -- files or folders, searched recursively -- into the qc folder ``output``.

    The settings are ``options`` or, as keyword arguments, the fields of
    :class:`QcOptions`: those of :func:`itk_tag.measure`, ``window`` (W, L) in
    HU and ``outlier_k``. Writes the folder's files (see the module's note);
    the report and the flags are written at the end, and after an interrupt
    with what was done. When ``output`` holds an earlier run (and
    ``overwrite`` is false), it is resumed: files measured then whose picture
    is there and complete are kept. Returns a QcReport. Raises UsageError for
    missing inputs, OutputExistsError when ``output`` exists and is not a qc
    folder, OutputOutdatedError when it was made with other options,
    RunInterrupted (with the QcReport) on SIGINT or SIGTERM.
    """
    options = options if options is not None else QcOptions(**settings)
    sources = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    folder = Path(output)
    if formats.format_of(folder, ("csv", "json", "html", "png")) is not None and not folder.is_dir():
        raise UsageError(f"{folder}: the output of qc is a folder (it holds index.html, flags.csv, images/)")
    found = runner.input_files(
        sources,
        lambda path: formats.format_of(path, ("tag",)) is not None,
        skip=folder.resolve() if folder.exists() else None,
    )
    forget()  # files may have changed since an earlier run in this process
    resuming = _claim(folder, options)
    destination = folder / TABLE
    kept_rows = resumed_rows(destination, options) if resuming else []
    folder.mkdir(parents=True, exist_ok=True)
    writers.sweep(folder)
    titles = {file: (relative / file.name).as_posix() for file, relative in found}
    pictures = {file: picture_path(folder, relative, file) for file, relative in found}
    files = [file for file, _ in found]
    entries: dict[int, FileQc] = {}
    by_file: dict[str, list[dict[str, Any]]] = {}
    for row in kept_rows:
        by_file.setdefault(row["file"], []).append(row)
    for index, file in enumerate(files):
        rows = by_file.get(os.fspath(file))
        if rows is not None:
            entry = _kept_entry(rows, file, titles[file], pictures[file], folder, options)
            if entry is not None:
                entries[index] = entry
    kept = [row for index in sorted(entries) for row in entries[index].rows]
    books = Books(destination, files, kept, fresh=not resuming and not options.overwrite)
    books.overwrite = True  # the folder is ours (checked above)
    problems = clashes([Job(file, pictures[file]) for file in files])
    tasks: list[Task] = [
        (index, file, titles[file], pictures[file], options)
        for index, file in enumerate(files)
        if index not in entries
    ]
    report = QcReport(total=len(tasks), kept=len(entries), folder=folder, options=options)
    outcomes: dict[int, Outcome] = {}

    def record(result: Result) -> None:
        index, outcome, rows, facts = result
        outcomes[index] = outcome
        books.add(index, rows)
        entries[index] = FileQc(
            os.fspath(outcome.source),
            facts["title"],
            outcome.destination.relative_to(folder).as_posix() if outcome.status == "measured" else "",
            tuple(facts.get("size", (0, 0))),  # type: ignore[arg-type]
            facts.get("geometry", ""),
            facts.get("problem", ""),
            facts.get("shown", ""),
            rows,
        )
        if on_outcome is not None:
            on_outcome(outcome)

    for task in tasks:
        job = Job(task[1], task[3])
        if job in problems:
            record(qc_failure(task, problems[job]))
    runnable = [task for task in tasks if Job(task[1], task[3]) not in problems]
    try:
        runner.tally(
            report, runner.run(qc_job, runnable, qc_failure, options.jobs, options.progress, "qc"), record
        )
    finally:
        report.outcomes = [outcomes[index] for index in sorted(outcomes)]
        report.rows = books.all()
        books.flush()
        report.files = [entries[index] for index in sorted(entries)]
        report.flags = find_flags(report.files, options.label_table, options.outlier_k)
        write_flags(report.flags, folder / FLAGS)
        reference = os.fspath(options.reference) if options.reference is not None else "none"
        run = Run(options.label_table, reference, options.window, options.outlier_k, report.not_done)
        write_report(folder / REPORT, report.files, report.flags, run)
    return report
