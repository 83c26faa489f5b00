"""Converting masks: the plan of a run, reading a mask (a ``.tag`` on its reference's grid, or a
label image), and the convert job -- one file (:func:`convert_file`) or many (:func:`convert`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import OutputExistsError, OutputOutdatedError, UsageError, itk_reason, reason_of
from ..format import TagHeader, read_header
from ..hosts.image_buffer import read_voxels
from ..hosts.itk_paths import itk_path
from . import formats, runner, writers
from .existing import output_problem
from .keywords import carried_keywords
from .mask import Mask
from .options import ConvertOptions
from .pairing import Pairs, forget, locate, open_located
from .reference import (
    DEFAULT_TOLERANCE,
    GeometryCheck,
    Reference,
    ReferenceSpec,
    Tolerance,
    compare,
    flip_slices,
    grid_of,
    require_alignment,
    tag_grid,
)
from .runner import Outcome, Report

if TYPE_CHECKING:
    import SimpleITK


def place_tag(
    path: Path,
    reference: ReferenceSpec,
    tolerance: Tolerance,
    force: bool,
    pixels: bool = False,
    pairs: Pairs | None = None,
) -> tuple[TagHeader, Reference | None, GeometryCheck | None]:
    """Read a tag's header and, when ``reference`` (or ``pairs``) names one, open it and check the tag
    lies on its grid.

    No voxel is read: a mismatch costs no read. ``pixels`` reads the
    reference's pixels in the same read (for measuring). Raises
    GeometryMismatchError, ReferenceImageError, TagFileError.
    """
    header = read_header(path)
    image = open_located(locate(path, header, reference, pairs, tolerance), header.size[2], pixels)
    if image is None:
        return header, None, None
    check = compare(header, image, tolerance)
    require_alignment(check, force)
    return header, image, check


def load_tag(
    path: Path,
    reference: ReferenceSpec,
    tolerance: Tolerance,
    force: bool,
    pixels: bool = False,
    pairs: Pairs | None = None,
) -> Mask:
    """Load a ``.tag`` file as a mask, on its reference's grid when ``reference`` (or ``pairs``) names one.

    The voxels are read into a SimpleITK image's buffer (:mod:`itk_tag.hosts.image_buffer`)
    and put on the reference grid in place, so the image is in memory once.
    """
    header, image, check = place_tag(path, reference, tolerance, force, pixels, pairs)
    voxels = read_voxels(path, header)
    if image is None or check is None:
        return Mask(voxels, tag_grid(header), dict(header.keywords))
    if check.reversed_slices:
        flip_slices(voxels)
    return Mask(voxels, check.grid, dict(header.keywords), check, image)


def label_voxels(voxels: np.ndarray, where: Path) -> np.ndarray:
    """Return ``voxels`` as uint8 (values up to 255) or uint16; ValueError if they are not labels."""
    if voxels.dtype.kind not in "uif":
        raise ValueError(f"{where}: {voxels.dtype} voxels are not label values")
    if voxels.size and (voxels.min() < 0 or voxels.max() > 65535):
        raise ValueError(f"{where}: voxel values {voxels.min()}..{voxels.max()} are outside 0..65535")
    if voxels.dtype.kind == "f" and not np.array_equal(voxels, np.round(voxels)):
        raise ValueError(f"{where}: voxel values are not whole numbers, so not labels")
    return voxels.astype(np.uint8 if voxels.size == 0 or voxels.max() <= 255 else np.uint16)


def load_label_image(path: Path) -> Mask:
    """Load any label image ITK reads (NRRD, NIfTI, MetaImage, a Slicer ``.seg.nrrd``) as a mask."""
    if formats.format_of(path) == "seg.nrrd":
        voxels, grid, keywords = writers.read_segmentation(path)
        return Mask(voxels, grid, keywords)
    import SimpleITK

    spelled = itk_path(path)
    try:
        image = SimpleITK.ReadImage(spelled)
    except RuntimeError as error:
        raise ValueError(f"{path}: {itk_reason(error).replace(spelled, str(path))}") from error
    if image.GetNumberOfComponentsPerPixel() != 1:
        components = image.GetNumberOfComponentsPerPixel()
        raise ValueError(f"{path}: {components} components per voxel, not a label map")
    if image.GetDimension() not in (2, 3):
        raise ValueError(f"{path}: a {image.GetDimension()}D image, not 2D or 3D")
    # NIfTI has no place for our keywords: its lower-case metadata (bitpix, qform_code, ...)
    # is its own header, not keywords to write into a .tag.
    nifti = formats.format_of(path, ("nii", "nii.gz")) is not None
    fields = {} if nifti else {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    voxels = label_voxels(SimpleITK.GetArrayFromImage(image), path)
    grid = writers.with_thickness(grid_of(image), fields)
    return Mask(voxels.reshape(-1, *voxels.shape[-2:]), grid, carried_keywords(fields))


def read(
    path: str | os.PathLike[str],
    reference: ReferenceSpec = None,
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    force: bool = False,
) -> SimpleITK.Image:
    """Read a ``.tag`` file into a 3D ``SimpleITK.Image`` (uint8 for BYTE, uint16 for SHORT).

    The voxels come from the C++ reader (``itk::TagImageIO``) straight into the
    image's buffer: the image is in memory once, also on a reference grid whose
    slices run the other way (flipped in place). Every header keyword is a
    metadata entry (lower-case key, value as written).

    ``reference`` puts the mask on the exact grid of the image it was drawn on:

    * ``None`` or ``"none"``: the tag's own grid (4-decimal origin, spacing, direction);
    * ``"auto"``: the image named after the tag (``name.dcm`` for ``name.dcm.tag``;
      ``name`` -- a file or a DICOM series folder -- or ``name.dcm`` for ``name.tag``),
      else the DICOM image(s) of the tag's folder that it lies on (:mod:`.pairing`);
    * a path: that DICOM file, DICOM series folder, or ITK-readable image.

    With a reference, the grids are compared within ``tolerance`` and the
    image gets the reference's origin, spacing and direction exactly, so ITK
    filters accept the (image, mask) pair. Raises GeometryMismatchError when
    they differ (``force=True`` takes the reference's grid anyway, if the sizes
    match), ReferenceImageError when no reference is found, TagFileError for a
    broken tag.
    """
    mask = load_tag(Path(path), reference, tolerance, force)
    return writers.to_image(mask.voxels, mask.grid, mask.keywords)


@dataclass(frozen=True)
class Job:
    """One conversion: read ``source``, write ``destination``."""

    source: Path
    destination: Path


def _recorded_change(key: str, was: Any, options: ConvertOptions) -> str:
    """One recorded option that differs from this run's, in the words of the command line."""
    if key == "reference":
        now = "none" if options.reference is None else options.reference
        return f"made with --reference {was}, this run has --reference {now}"
    if key == "pairs":
        now = f"--pairs {options.pair_table.path}" if options.pair_table is not None else "no --pairs"
        return f"made with {'--pairs ' + str(was) if was else 'no --pairs'}, this run has {now}"
    if key == "force":
        return "made with --force, this run has none" if was else "made without --force, this run has it"
    if key == "tolerance":
        now = list(dataclasses.astuple(options.tolerance))
        return f"made with tolerances (origin, direction, spacing) {was}, this run has {now}"
    if key == "seg":
        return f"made with DICOM SEG --seg-type/--seg-series-description {was}"
    return f"made with other --{key}"


def _outdated(destination: Path, options: ConvertOptions) -> str:
    """Why an existing output does not fit ``options`` ("" when it does, or records nothing to tell).

    Said with the options as a user types them (``made with --reference auto,
    this run has --reference none``).
    """
    recorded = writers.recorded_options(destination)
    if recorded is None:
        return ""
    wanted = options.record()
    changed = [
        _recorded_change(key, recorded.get(key), options)
        for key in [*wanted, *(key for key in recorded if key not in wanted)]
        if recorded.get(key) != wanted.get(key)
    ]
    if not changed:
        return ""
    return f"output exists, {'; '.join(changed)}: --overwrite replaces it"


def _convert(job: Job, options: ConvertOptions) -> GeometryCheck | None:
    """Convert one file (see :func:`convert_file`); ``options.format`` is the output format."""
    source, destination = job.source, job.destination
    if destination.resolve() == source.resolve():
        raise ValueError(f"{destination}: the output would replace its input")
    is_tag = formats.format_of(source, ("tag",)) is not None
    if options.format == "dcm" and not is_tag:
        raise ValueError(f"{source}: a DICOM SEG is made from a .tag file, not from a label image")
    if destination.exists() and not options.overwrite:
        # Checked as if converting: a file that fails today is a failure, old output or not.
        if is_tag:
            place_tag(source, options.reference, options.tolerance, options.force, pairs=options.pairs)
        else:
            load_label_image(source)
        recording = options.format in writers.RECORDING_FORMATS
        problem = output_problem(destination, options.format, writers.RECORD_KEY if recording else "")  # type: ignore[arg-type]
        if problem:
            raise OutputOutdatedError(
                destination, f"in the output's place: {problem}; --overwrite replaces it"
            )
        outdated = _outdated(destination, options)
        raise OutputOutdatedError(destination, outdated) if outdated else OutputExistsError(destination)
    if is_tag:
        mask = load_tag(source, options.reference, options.tolerance, options.force, pairs=options.pairs)
    else:
        mask = load_label_image(source)
    if mask.reference is not None and destination.resolve() in {f.resolve() for f in mask.reference.files}:
        raise ValueError(f"{destination}: the output would replace its reference image")
    writers.write_mask(mask, destination, options.format, options)  # type: ignore[arg-type]
    return mask.check


def convert_failure(task: tuple[Job, ConvertOptions], reason: str) -> Outcome:
    """The outcome of a job that failed for ``reason`` (its worker process died on it)."""
    job, _ = task
    return Outcome(job.source, job.destination, "failed", reason)


def convert_job(task: tuple[Job, ConvertOptions]) -> Outcome:
    """Run one job and report its outcome; never raise (a failing file must not stop the batch)."""
    job, options = task
    try:
        check = _convert(job, options)
    except OutputOutdatedError as error:
        return Outcome(job.source, job.destination, "failed", f"{job.destination}: {error.strerror}")
    except OutputExistsError:
        return Outcome(job.source, job.destination, "skipped", "output exists")
    except Exception as error:  # noqa: BLE001 - any failure is this file's, reported and counted
        return Outcome(job.source, job.destination, "failed", reason_of(error))
    notes = tuple(check.notes + check.differences()) if check is not None else ()
    return Outcome(job.source, job.destination, "written", notes=notes)


def convert_file(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    options: ConvertOptions | None = None,
    **settings: Any,
) -> GeometryCheck | None:
    """Convert one mask; return the geometry check when a reference was used.

    ``source`` is a ``.tag`` file or, to write a ``.tag``, any label image ITK
    reads (or a ``.seg.nrrd``). The settings are ``options`` or, as keyword
    arguments, the fields of :class:`~itk_tag.batch.options.ConvertOptions`:
    ``format`` (default: the extension of ``destination``); ``reference``,
    ``tolerance`` and ``force`` as in :func:`itk_tag.read` (they apply to
    ``.tag`` sources); ``labels``, the names of the segments of a
    ``.seg.nrrd`` or DICOM SEG (see :func:`itk_tag.load_labels`);
    ``overwrite``; for a DICOM SEG (``dcm``), which needs a ``reference`` (its
    DICOM images), ``seg_type`` (``binary`` or ``labelmap``) and
    ``seg_series_description``.

    The output appears whole or not at all. Raises OutputExistsError if it
    exists and ``overwrite`` is false (OutputOutdatedError when it records
    other options), UsageError for options that do not go together, the error
    of the failing step otherwise.
    """
    destination = Path(destination)
    options = options if options is not None else ConvertOptions(**settings)
    output_format = options.format or formats.format_of(destination)
    if output_format is None:
        raise UsageError(f"{destination}: unknown output format (give format=, one of the known extensions)")
    return _convert(Job(Path(source), destination), options.with_format(output_format))


def plan(inputs: Sequence[Path], output: Path, options: ConvertOptions) -> tuple[list[Job], ConvertOptions]:
    """Plan the conversions that ``convert INPUT... -o OUTPUT`` makes; return them and the options to use.

    ``output`` is a file (its extension gives the format) for a single input
    file, else a folder: a file input's output goes straight into it, a folder
    input's tree is mirrored in it. From a folder, the ``.tag`` files are read
    (the label images -- .nrrd, .seg.nrrd, .nii[.gz], .mha, .mhd -- when the
    format is ``tag``); hidden files and the output folder are skipped.
    """
    sources = runner.existing_inputs(inputs)
    named = formats.format_of(output)
    if named is not None and not output.is_dir():
        if options.format is not None and options.format != named:
            raise UsageError(f"--format {options.format} contradicts the output name {output}")
        if len(sources) != 1:
            raise UsageError(f"{output} is one file: give one input file, or an output folder")
        if sources[0].is_dir():
            raise UsageError(f"{sources[0]}: is a directory, so the output must be a folder, not {output}")
        return [Job(sources[0], output)], options.with_format(named)
    options = options.with_format(options.format or "nrrd")
    readable = formats.LABEL_IMAGE_FORMATS if options.format == "tag" else ("tag",)
    wanted = "label images" if options.format == "tag" else ".tag files"
    found = runner.input_files(
        sources, lambda path: formats.format_of(path, readable) is not None, wanted, output.resolve()
    )
    jobs = [
        Job(file, output / relative / formats.output_name(file, options.format)) for file, relative in found
    ]  # type: ignore[arg-type]
    return jobs, options


def clashes(jobs: list[Job]) -> dict[Job, str]:
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
    options: ConvertOptions | None = None,
    *,
    on_outcome: Callable[[Outcome], None] | None = None,
    **settings: Any,
) -> Report:
    """Convert tag files (or, to ``.tag``, label images) -- files or folders -- into ``output``.

    ``output`` is a file for one input file, else a folder where folder inputs
    are mirrored. The settings are ``options`` or the keyword arguments of
    :func:`convert_file`, and: ``format``, the output format when ``output`` is
    a folder (``nrrd``, ``seg.nrrd``, ``nii.gz``, ``nii``, ``mha``, ``tag``,
    ``dcm``; default ``nrrd``); ``jobs`` > 1 converts in that many processes;
    ``progress`` shows a progress bar (default: when stderr is a terminal).

    A failing file does not stop the run: every outcome is in the returned
    Report (and passed to ``on_outcome`` as it comes). An existing output is
    skipped when it records these options (or none), and is a failure when it
    records others. Raises UsageError when inputs, output and options do not
    fit together, LabelsError for unusable labels, RunInterrupted (a
    KeyboardInterrupt, with the report) on SIGINT or SIGTERM.
    """
    options = options if options is not None else ConvertOptions(**settings)
    sources = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    planned, options = plan([Path(source) for source in sources], Path(output), options)
    forget()  # files may have changed since an earlier run in this process
    folders = {job.destination.parent for job in planned}
    for folder in folders:
        writers.sweep(folder)
    report = Report(total=len(planned))

    def record(outcome: Outcome) -> None:
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    problems = clashes(planned)
    for job, problem in problems.items():
        record(Outcome(job.source, job.destination, "failed", problem))
    runnable = [(job, options) for job in planned if job not in problems]
    results = runner.run(convert_job, runnable, convert_failure, options.jobs, options.progress, "convert")
    try:
        runner.tally(report, results, record)
    finally:
        # A worker process that died (see runner.run) left its temporary file
        # (20 ms for 2,000 folders).
        for folder in folders:
            writers.sweep(folder)
    return report
