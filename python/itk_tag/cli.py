"""The ``itk-tag`` command line: a thin layer over :mod:`itk_tag`'s functions.

Exit codes: 0 success, 1 some file failed (or, for ``check``, the grids
differ; for ``slicer status``, the plugin does not serve that Slicer), 2 usage
error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .batch import allocator, itk_warnings, runner
from .batch.convert import convert
from .batch.describe import format_info, info
from .batch.formats import format_of, normalize_format
from .batch.labels import load_labels
from .batch.measure import measure
from .batch.options import SEG_SERIES_DESCRIPTION, SEG_TYPES, ConvertOptions, MeasureOptions
from .batch.pairing import check, load_pairs
from .batch.reference import Tolerance
from .batch.runner import Outcome
from .errors import LabelsError, ReferenceImageError, RunInterrupted, UsageError, reason_of
from .hosts.plugins import plugin_path
from .hosts.slicer import (
    SlicerInstall,
    default_home,
    find_slicer,
    install_module,
    install_plugin,
    module_path,
    status,
    uninstall_module,
    uninstall_plugin,
    unsupported_reason,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

LABELS_HELP = (
    "label names and colours: 'alberta' (1 muscle, 2 IMAT, 5 VAT, 7 SAT), or a .json file "
    '({"1": "muscle", "7": {"name": "SAT", "color": "#00FFFF"}}) or a .csv file (value,name[,#RRGGBB] rows); '
    "labels without a name are called 'Label N'"
)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text}")
    return value


def _format_name(text: str) -> str:
    try:
        return normalize_format(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _tolerance(args: argparse.Namespace) -> Tolerance:
    return Tolerance(
        origin=args.origin_tolerance, direction=args.direction_tolerance, spacing=args.spacing_tolerance
    )


def _tolerance_options() -> argparse.ArgumentParser:
    default = Tolerance()
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("geometry tolerances (tag vs reference image)")
    tolerances = (
        ("origin", "MM", "largest distance between the tag's and the reference's slice positions, in mm"),
        ("direction", "X", "largest difference of a row/column direction component"),
        ("spacing", "REL", "largest relative difference of the in-plane pixel spacing"),
    )
    for name, unit, meaning in tolerances:
        value = getattr(default, name)
        group.add_argument(
            f"--{name}-tolerance",
            type=_non_negative_float,
            default=value,
            metavar=unit,
            help=f"{meaning} (default {value:g})",
        )
    return options


NO_PLUGIN = (
    "itk-tag: no native ITK plugin in this installation (a pure install: the native part is built "
    "for Linux x86_64 only); SimpleITK and ITK Python still read .tag files once itk_tag is installed "
    "(Python path), and 'itk-tag convert' makes .nrrd/.nii.gz files any ITK program reads"
)


def _plugin_folder() -> Path | None:
    """The plugin folder; None (and NO_PLUGIN on stderr) on an install without the native plugin."""
    try:
        return plugin_path()
    except FileNotFoundError:
        print(NO_PLUGIN, file=sys.stderr)
        return None


def _plugin_path(args: argparse.Namespace) -> int:
    folder = _plugin_folder()
    if folder is None:
        return EXIT_FAILED
    print(folder)
    return EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    from .hosts import doctor  # here: the other commands need none of it

    return doctor.main(as_json=args.json)


def _reporting_os_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turns an OSError (read-only Slicer installation, unreadable library) into a message and exit 1."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except OSError as error:
            print(f"itk-tag: {error}", file=sys.stderr)
            return EXIT_FAILED

    return run


def _command(
    group: Any, run: Callable[[argparse.Namespace], int], name: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """A sub-command of ``group`` that runs ``run`` and prints its own usage on a usage error."""
    parser = group.add_parser(name, **kwargs)
    parser.set_defaults(run=run, command_parser=parser)
    return parser


def _slicer_at(args: argparse.Namespace) -> SlicerInstall:
    return find_slicer(args.home if args.home is not None else default_home())


@_reporting_os_errors
def _slicer_install(args: argparse.Namespace) -> int:
    slicer = _slicer_at(args)
    reason = unsupported_reason(slicer)
    module = install_module(slicer)
    stale = f", {len(module.removed)} earlier files removed" if module.removed else ""
    print(
        f"SliceOmaticTag module installed in {slicer.scripted_modules} ({len(module.written)} files written, "
        f"{len(module.unchanged)} already up to date{stale})"
    )
    if reason and not (args.force and slicer.system == "linux" and "pure install" not in reason):
        print(f"itk-tag plugin not installed: {reason}")
    else:
        plugin = install_plugin(slicer)
        stale = f", {len(plugin.removed)} earlier builds removed" if plugin.removed else ""
        print(
            f"itk-tag plugin installed in {slicer.factories} ({len(plugin.written)} files written, "
            f"{len(plugin.unchanged)} already up to date{stale})"
        )
    print("restart Slicer to load them")
    return EXIT_OK


@_reporting_os_errors
def _slicer_uninstall(args: argparse.Namespace) -> int:
    slicer = _slicer_at(args)
    removed = uninstall_module(slicer)
    if removed:
        print(f"SliceOmaticTag module removed from {slicer.scripted_modules} ({len(removed)} files)")
    else:
        print(f"SliceOmaticTag module not installed in {slicer.scripted_modules}: nothing removed")
    if slicer.system == "linux":
        removed = uninstall_plugin(slicer)
        if removed:
            print(f"itk-tag plugin removed from {slicer.factories} ({len(removed)} files)")
        else:
            print(f"itk-tag plugin not installed in {slicer.factories}: nothing removed")
    return EXIT_OK


def _slicer_module_path(args: argparse.Namespace) -> int:
    print(module_path())
    return EXIT_OK


@_reporting_os_errors
def _slicer_status(args: argparse.Namespace) -> int:
    result = status(_slicer_at(args))
    print(json.dumps(result.to_dict()) if args.json else result.report())
    return EXIT_OK if result.ok else EXIT_FAILED


def _slicer_commands(commands: argparse._SubParsersAction) -> None:
    slicer = commands.add_parser(
        "slicer",
        help="install the SliceOmaticTag module (Linux: and the plugin) into 3D Slicer, remove or check it",
        description="The SliceOmaticTag module (pure Python, every OS) reads .tag files into Slicer as named "
        "segmentations and saves them back; it goes into Slicer's lib/Slicer-X.Y/qt-scripted-modules "
        "folder. On Linux, the native plugin also goes into lib/Slicer-X.Y/ITKFactories where it serves "
        "that Slicer's ITK (Slicer's launcher replaces ITK_AUTOLOAD_PATH). SLICER_HOME is the folder "
        "holding the Slicer launcher (Slicer.exe on Windows), or Slicer.app on macOS; default: "
        "$SLICER_HOME. See docs/slicer.md.",
    )
    actions = slicer.add_subparsers(dest="action", required=True, metavar="ACTION")
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument(
        "home", nargs="?", metavar="SLICER_HOME", help="the Slicer installation (default: $SLICER_HOME)"
    )
    installed = _command(
        actions,
        _slicer_install,
        "install",
        parents=[home],
        help="copy the module into Slicer's qt-scripted-modules (Linux: the plugin into ITKFactories)",
        description="Copy the SliceOmaticTag module (SliceOmaticTag.py and SliceOmaticTagLib/) into Slicer's "
        "lib/Slicer-X.Y/qt-scripted-modules folder and, on Linux where this itk-tag's plugin serves that "
        "Slicer's ITK, the plugin (libIOTagPlugin.so and its itk-tag-builds folder) into its ITKFactories "
        "folder. Each file is written whole (temporary name, then rename), files already identical are "
        "kept, other files there are never touched. Exit code 0 installed, 1 failed (e.g. read-only), "
        "2 SLICER_HOME is not a Slicer installation.",
    )
    installed.add_argument(
        "--force", action="store_true", help="Linux: install the plugin even when it cannot serve that Slicer"
    )
    _command(
        actions,
        _slicer_uninstall,
        "uninstall",
        parents=[home],
        help="remove the module (and on Linux the plugin) from Slicer",
        description="Remove what itk-tag slicer install put into Slicer: the module (SliceOmaticTag.py, its "
        "compiled copies, SliceOmaticTagLib/) and on Linux the plugin (libIOTagPlugin.so, "
        "itk-tag-builds/); other files there are never touched.",
    )
    checked = _command(
        actions,
        _slicer_status,
        "status",
        parents=[home],
        help="report whether the module (and on Linux the plugin) is installed and serves that Slicer",
        description="Report the Slicer version and OS, whether the SliceOmaticTag module is installed (and "
        "whether it is this itk-tag's); on Linux also its ITK version, libstdc++ ABI and ITK namespace "
        "(read from its libITKCommon library as the plugin reads its host), whether the plugin is installed "
        "and whether it serves that Slicer. Exit code 0 when this itk-tag's module is installed, and its "
        "plugin too where the plugin can serve that Slicer; 1 otherwise; 2 not a Slicer installation.",
    )
    checked.add_argument("--json", action="store_true", help="print the status as one JSON object")
    _command(
        actions,
        _slicer_module_path,
        "module-path",
        help="print the folder holding the SliceOmaticTag module",
        description="Print the folder holding SliceOmaticTag.py in this itk-tag, for Slicer's Application "
        "Settings > Modules > Additional module paths (the module finds itk-tag's format folder beside it).",
    )


def _info(args: argparse.Namespace) -> int:
    status = EXIT_OK
    labels = load_labels(args.labels)
    found = runner.input_files(args.files, lambda path: format_of(path, ("tag",)) is not None)
    for file, _ in found:
        path = str(file)
        try:
            description = info(path, labels)
        except (OSError, ValueError) as error:
            reason = reason_of(error)
            print(reason if path in reason else f"{path}: {reason}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        print(json.dumps(description) if args.json else format_info(description), flush=True)
    return status


def _check(args: argparse.Namespace) -> int:
    itk_warnings.silence()
    pairs = load_pairs(args.pairs) if args.pairs is not None else None
    if args.reference is not None and pairs is not None:
        raise UsageError("give DICOM or --pairs, not both")
    reference = args.reference or "auto"
    tags = runner.input_files([args.tag], lambda path: format_of(path, ("tag",)) is not None)
    status = EXIT_OK
    for file, _ in tags:
        path = str(file)
        try:
            result = check(file, reference, _tolerance(args), pairs)
        except (OSError, ValueError) as error:
            reason = reason_of(error)
            print(reason if path in reason else f"{path}: {reason}", file=sys.stderr, flush=True)
            status = EXIT_FAILED
            continue
        print(json.dumps(result.to_dict()) if args.json else result.report(), flush=True)
        if not result.ok:
            status = EXIT_FAILED
    return status


def _show(verbose: bool) -> Callable[[Outcome], None]:
    """Report a file's outcome on stderr: failures and partial results always, the rest with -v."""

    def show(outcome: Outcome) -> None:
        if outcome.status == "failed":
            runner.note(f"error: {outcome.message()}")
        elif outcome.reason and outcome.status != "skipped":
            runner.note(f"note: {outcome.message()}")
        elif verbose:
            target = f" -> {outcome.destination}" if outcome.destination != Path() else ""
            runner.note(f"{outcome.status}: {outcome.source}{target}")
        if verbose and outcome.status != "failed":
            for note in outcome.notes:
                runner.note(f"  note: {note}")

    return show


def _batch_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options convert and measure share, as keyword arguments of their options objects."""
    return {
        "reference": args.reference,
        "pairs": args.pairs,
        "labels": args.labels,
        "tolerance": _tolerance(args),
        "force": args.force,
        "overwrite": args.overwrite,
        "jobs": args.jobs,
        "progress": args.progress,
    }


def _convert(args: argparse.Namespace) -> int:
    itk_warnings.silence()
    options = ConvertOptions(
        format=args.format,
        seg_type=args.seg_type,
        seg_series_description=args.seg_series_description,
        **_batch_options(args),
    )
    report = convert(args.inputs, args.output, options=options, on_outcome=_show(args.verbose))
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_FAILED


def _measure(args: argparse.Namespace) -> int:
    itk_warnings.silence()
    if args.subjects is not None and args.wide is None:
        raise UsageError("--subjects adds height and SMI columns to the wide table: give --wide WIDE.csv")
    options = MeasureOptions(subjects=args.subjects, smi_label=args.smi_label, **_batch_options(args))
    try:
        measurements = measure(
            args.inputs, args.output, options=options, wide=args.wide, on_outcome=_show(args.verbose)
        )
    except FileExistsError as error:
        print(f"itk-tag: {reason_of(error)}", file=sys.stderr)
        return EXIT_FAILED
    if args.subjects is not None:
        rows = measurements.wide().rows
        without = sum(1 for row in rows if row["status"] != "failed" and row["smi_cm2_m2"] is None)
        if without:
            runner.note(f"note: {without} of {len(rows)} masks have no SMI (the reason is in {args.wide})")
    print(measurements.summary())
    return EXIT_OK if measurements.ok else EXIT_FAILED


def _reference_arguments(parser: argparse.ArgumentParser, reference_help: str) -> None:
    """--reference and --pairs, which every command that puts tags on their images takes."""
    parser.add_argument("--reference", default=None, metavar="auto|PATH|none", help=reference_help)
    parser.add_argument(
        "--pairs",
        metavar="PAIRS.csv",
        help="a CSV file naming each tag's image, for layouts --reference auto does not find (a "
        "parallel dicom/ tree): columns tag,reference, paths relative to the CSV file's folder; a tag it "
        "does not list fails, unless --reference auto is also given (then it is found as auto finds it)",
    )


def _qc(args: argparse.Namespace) -> int:
    from .batch.qc import QcOptions, qc  # here: the other commands need no Pillow or Jinja2

    itk_warnings.silence()
    options = QcOptions(window=args.window, outlier_k=args.outlier_k, **_batch_options(args))
    try:
        report = qc(args.inputs, args.output, options=options, on_outcome=_show(args.verbose))
    except FileExistsError as error:
        print(f"itk-tag: {reason_of(error)}", file=sys.stderr)
        return EXIT_FAILED
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_FAILED


def _window(text: str) -> tuple[float, float]:
    from .batch.qc import parse_window

    try:
        return parse_window(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _batch_arguments() -> argparse.ArgumentParser:
    """The options convert and measure share: labels, --force, --overwrite, jobs, progress, verbosity."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--labels", metavar="SPEC", help=LABELS_HELP)
    options.add_argument(
        "--force",
        action="store_true",
        help="put a tag on its reference's grid even when the geometries differ beyond tolerance "
        "(never when the sizes differ)",
    )
    options.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    options.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="work in N worker processes (default 1)",
    )
    bar = options.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="show a progress bar with ETA on stderr (default: when stderr is a terminal)",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    options.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="report every file, and geometry notes, not only failures",
    )
    return options


def _tag_inputs(parser: argparse.ArgumentParser) -> None:
    """The INPUT arguments of the commands that read .tag files only (measure, qc)."""
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="a .tag file, or a folder to search recursively"
    )


def _qc_command(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    qc_parser = _command(
        commands,
        _qc,
        "qc",
        parents=parents,
        help="look at every mask: an overlay PNG per tag, a cohort report (index.html) and flags.csv",
        description="Measure tag files as measure does (the same rows, in QCDIR/measurements.csv) and draw "
        "each over its CT slice (QCDIR/images/...png: windowed CT, each label a translucent fill with an "
        "outline in its colour, a legend with areas; the slice with the most labelled voxels; the mask alone "
        "on black without a CT), then write QCDIR/index.html, one page for the cohort that opens from disk, "
        "and QCDIR/flags.csv (file,flag,label,reason; flags: failed, geometry, empty, unknown-label, "
        "multi-slice, area-outlier). A rerun into the same QCDIR resumes it.",
    )
    _tag_inputs(qc_parser)
    qc_parser.add_argument(
        "-o", "--output", required=True, metavar="QCDIR", help="the folder to write (made if missing)"
    )
    _reference_arguments(
        qc_parser,
        "the CT each tag was drawn on, as for measure (a tag whose CT is not found with 'auto' is a failed "
        "file); 'none' (default): the masks alone, on black",
    )
    qc_parser.add_argument(
        "--window",
        type=_window,
        default="400/40",
        metavar="W/L",
        help="the CT's display window, width and level in HU (default 400/40, soft tissue)",
    )
    qc_parser.add_argument(
        "--outlier-k",
        type=_non_negative_float,
        default=3.5,
        metavar="K",
        help="an area farther than K x 1.4826 x MAD from the cohort's median is flagged (default 3.5)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``itk-tag``, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="itk-tag",
        description="sliceOmatic .tag segmentation files for ITK, SimpleITK and numpy: inspect them, "
        "convert them (aligned exactly to their DICOM) to NRRD, Slicer .seg.nrrd, NIfTI, MetaImage, "
        "DICOM SEG, write .tag files, and measure areas, volumes and HU per label. Exit codes: 0 success, "
        "1 a file failed or (check) the grids differ or (slicer status) the plugin does not serve that "
        "Slicer, 2 usage error.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"itk-tag {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    tolerances = _tolerance_options()

    described = _command(
        commands,
        _info,
        "info",
        help="describe tag files: header, geometry, labels with voxel counts, areas (cm²), volumes (cm³)",
        description="Print each tag file's header keywords, size, pixel type, spacing, origin, "
        "direction, header size in bytes, and every label value (0 excepted) with its voxel count, "
        "area (cm², voxels x inc_x x inc_y, summed over slices) and volume (cm³, x epais; none for one "
        "slice), from the tag header's spacing (4 decimals), as measure --reference none gives them; "
        "measure with a reference takes the CT's spacing instead.",
    )
    described.add_argument(
        "files", nargs="+", metavar="FILE", help="a .tag file, or a folder to search recursively"
    )
    described.add_argument(
        "--json", action="store_true", help="print one JSON object per file, one per line (JSON Lines)"
    )
    described.add_argument("--labels", metavar="SPEC", help=LABELS_HELP)

    batch_options = _batch_arguments()
    converted = _command(
        commands,
        _convert,
        "convert",
        parents=[batch_options, tolerances],
        help="convert tag files to .nrrd/.seg.nrrd/.nii.gz/.mha/DICOM SEG, or label images to .tag",
        description="Convert tag files -- or, with the .tag format, label images (.nrrd, .seg.nrrd, "
        ".nii, .nii.gz, .mha, .mhd) -- given as files or folders (searched recursively). Each output "
        "appears whole or not at all (written to a temporary file, then renamed); existing outputs "
        "are kept unless --overwrite; inputs are never modified. A failing file is reported as "
        "'path: reason' and the others go on; a summary ends the run.",
    )
    converted.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="a file, or a folder to search recursively"
    )
    converted.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="the output file (for one input file; its extension gives the format) or folder "
        "(file inputs go into it, folder inputs are mirrored in it)",
    )
    converted.add_argument(
        "--format",
        type=_format_name,
        metavar="FORMAT",
        help="output format when OUT is a folder: nrrd (default), seg.nrrd (3D Slicer segmentation, one "
        "named, coloured segment per label), nii.gz, nii, mha, tag, or dcm (DICOM SEG, needs --reference)",
    )
    _reference_arguments(
        converted,
        "put each tag on the exact grid of the image it was drawn on: 'auto' takes the image named after "
        "the tag (name.dcm.tag -> name.dcm; name.tag -> name, a file or a DICOM series folder, or name.dcm), "
        "else the DICOM image(s) in the tag's folder whose grid the tag lies on; a tag whose image is not "
        "found fails, with what was looked at. PATH is one DICOM file, DICOM series folder or image for "
        "every input; the grids must agree within the tolerances, else the file fails. 'none' (default) "
        "keeps the tag's own 4-decimal grid, which ITK filters reject next to the DICOM",
    )
    converted.add_argument(
        "--seg-type",
        choices=SEG_TYPES,
        default="binary",
        help="DICOM SEG type: binary (default; one bit plane per segment) or labelmap "
        "(one frame of segment numbers, Label Map Segmentation Storage)",
    )
    converted.add_argument(
        "--seg-series-description",
        default=SEG_SERIES_DESCRIPTION,
        metavar="TEXT",
        help=f"Series Description of the DICOM SEG (default {SEG_SERIES_DESCRIPTION!r})",
    )

    measured = _command(
        commands,
        _measure,
        "measure",
        parents=[batch_options, tolerances],
        help="body composition: per tag and label, voxels, area (cm²), volume (cm³), HU statistics",
        description="Measure tag files given as files or folders (searched recursively): one row per "
        "file and label with the voxel count, the area in cm² (per slice, and their total), the volume in "
        "cm³ (z > 1), and the HU mean, SD, min, max and median inside the label, read from the reference "
        "CT with its rescale slope and intercept applied (SimpleITK's label statistics). The rows are "
        "written atomically to OUT (.csv or .json); a failing file is reported and the others go on.",
    )
    _tag_inputs(measured)
    measured.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="the table to write: a .csv or .json file"
    )
    _reference_arguments(
        measured,
        "the CT each tag was drawn on, for its exact grid, its HU and its patient_id ... kvp columns: 'auto' "
        "finds it as convert does (named after the tag, else the DICOM image(s) of the tag's folder on its "
        "grid); a tag whose CT is not found is a failed file (its row says what was looked at). PATH is one "
        "DICOM file, series folder or image for every tag; a reference whose grid differs fails the file. "
        "'none' (default): areas only, from the tag's own spacing (4 decimals), no HU",
    )
    measured.add_argument(
        "--wide",
        metavar="WIDE",
        help="also write the wide table to WIDE (.csv or .json): one row per file (mask) with the CT's "
        "patient_id, study_date, ..., and per label <name>_area_cm2, <name>_hu_mean, <name>_hu_sd "
        "(names from the label table: muscle_area_cm2), ready for a statistics package",
    )
    measured.add_argument(
        "--subjects",
        metavar="SUBJECTS.csv",
        help="a CSV file with columns patient_id and height_m or height_cm (others are carried into the "
        "wide table): adds height_m and smi_cm2_m2, the skeletal muscle index (muscle area / height², "
        "cm²/m²), matched by the CT's PatientID; a patient without a height gets an empty SMI and a "
        "reason, not a failure. Needs --wide",
    )
    measured.add_argument(
        "--smi-label",
        type=_positive_int,
        metavar="N",
        help="the label value the SMI is of (default: the label named 'muscle', label 1 of --labels alberta)",
    )

    _qc_command(commands, [batch_options, tolerances])

    checked = _command(
        commands,
        _check,
        "check",
        parents=[tolerances],
        help="compare a tag's geometry with its DICOM's",
        description="Compare a tag's grid (or every tag's in a folder) with its reference image's, as "
        "convert --reference does: "
        "size, the position of every slice, in-plane spacing, row and column directions (with one slice, "
        "the slice axis places no voxel and is not compared). Exit code 0 when they all agree, 1 otherwise.",
    )
    checked.add_argument("tag", metavar="TAG", help="a .tag file, or a folder to search recursively")
    checked.add_argument(
        "reference",
        nargs="?",
        metavar="DICOM",
        help="its DICOM file, DICOM series folder or image, for every tag "
        "(default: found as with --reference auto)",
    )
    checked.add_argument(
        "--pairs", metavar="PAIRS.csv", help="a CSV file naming each tag's image (columns tag,reference)"
    )
    checked.add_argument("--json", action="store_true", help="print the comparison as one JSON object")

    _command(
        commands,
        _plugin_path,
        "plugin-path",
        help="print the folder to put on ITK_AUTOLOAD_PATH",
        description="Print the folder holding the itk-tag ITK plugin, for ITK programs that load "
        "ITK_AUTOLOAD_PATH (C++ tools, SimpleITK, plastimatch); one folder serves them all.",
    )

    doctor = _command(
        commands,
        _doctor,
        "doctor",
        help="say what this Python has and whether SimpleITK, ITK Python and itk-tag read .tag files",
        description="Report the itk and SimpleITK versions found, their ITK versions and libstdc++ ABIs, the "
        "plugin folder and its builds, whether the startup hook (itk-tag-autoload.pth) is armed, "
        "ITK_AUTOLOAD_PATH, and a real read of a sample shipped with itk-tag in each host, each in a child "
        "process (a crash is reported, not suffered). Every problem comes with the line that fixes it. "
        "Exit code 0 when every host found reads the sample, 1 otherwise.",
    )
    doctor.add_argument("--json", action="store_true", help="print the report as one JSON object")
    _slicer_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``itk-tag`` with ``argv`` (default: the process arguments); returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # Unwinding (not dying) removes the temporary file of an output being written.
        runner.handle_signals()
    # The command runs -j 1 jobs itself: its process keeps freed memory for the next file too.
    allocator.keep_freed_memory()
    try:
        return args.run(args)
    except (UsageError, LabelsError) as error:
        args.command_parser.error(str(error))  # with that command's usage
    except ReferenceImageError as error:
        print(f"itk-tag: {error}", file=sys.stderr)
        return EXIT_FAILED
    except RunInterrupted as interrupted:
        for number in runner.SIGNALS:
            # Ignored to the end: Python's finalization would let a later signal kill the process.
            signal.signal(number, signal.SIG_IGN)
        # The last line counts what was done; the status says the run was stopped (128 + signal).
        if interrupted.report is not None:
            print(interrupted.report.summary(), flush=True)  # type: ignore[attr-defined]
        print("itk-tag: interrupted", file=sys.stderr)
        return 128 + interrupted.signal
    except KeyboardInterrupt:
        print("itk-tag: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
