"""Which files a ``convert`` run reads and where each output goes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .formats import LABEL_IMAGE_FORMATS, format_of, normalize_format, output_name


class UsageError(ValueError):
    """The inputs and output of a run do not go together (nothing was converted)."""


@dataclass(frozen=True)
class Job:
    """One conversion: read ``source``, write ``destination``."""

    source: Path
    destination: Path


def _is_input(path: Path, formats: tuple[str, ...]) -> bool:
    if path.name.startswith("."):
        return False  # hidden: our temporary files, macOS "._name" companions
    return format_of(path, formats) is not None


def _walk(folder: Path, formats: tuple[str, ...], skip: Path | None) -> Iterator[Path]:
    for root, folders, files in os.walk(folder):
        here = Path(root)
        folders[:] = sorted(
            f for f in folders if not f.startswith(".") and (skip is None or (here / f).resolve() != skip)
        )
        for name in sorted(files):
            if _is_input(here / name, formats):
                yield here / name


def existing_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Return the inputs as paths; UsageError when there is none or one does not exist."""
    sources = [Path(p) for p in inputs]
    if not sources:
        raise UsageError("no input given")
    for source in sources:
        if not source.exists():
            raise UsageError(f"{source}: no such file or folder")
    return sources


def input_files(
    inputs: Sequence[str | os.PathLike[str]], formats: tuple[str, ...] = ("tag",), skip: Path | None = None
) -> list[tuple[Path, Path]]:
    """Find the files a run reads: (file, its folder relative to the input folder it was found in).

    A file input is taken as it is; a folder is searched recursively for
    files in ``formats``, hidden files and the folder ``skip`` (the output)
    left out. Each file comes once. Raises UsageError when an input does not
    exist or nothing is found.
    """
    sources = existing_inputs(inputs)
    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for source in sources:
        files = (
            [(f, f.parent.relative_to(source)) for f in _walk(source, formats, skip)]
            if source.is_dir()
            else [(source, Path())]
        )
        for file, relative in files:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                found.append((file, relative))
    if not found:
        wanted = ".tag files" if formats == ("tag",) else "label images"
        raise UsageError(f"no {wanted} found in {', '.join(map(str, sources))}")
    return found


def output_mode(inputs: Sequence[Path], output: Path, output_format: str | None) -> tuple[bool, str]:
    """Return (whether ``output`` is one file, the output format); UsageError if they do not fit."""
    named = format_of(output)
    single = named is not None and not output.is_dir()
    if single:
        if output_format is not None and output_format.lower().lstrip(".") != named:
            raise UsageError(f"--format {output_format} contradicts the output name {output}")
        if len(inputs) != 1:
            raise UsageError(f"{output} is one file: give one input file, or an output folder")
        if inputs[0].is_dir():
            raise UsageError(f"{inputs[0]}: is a directory, so the output must be a folder, not {output}")
        return True, named  # type: ignore[return-value]
    try:
        return False, normalize_format(output_format or "nrrd")
    except ValueError as error:
        raise UsageError(str(error)) from None


@dataclass(frozen=True)
class Plan:
    """The jobs of a run and the format they write."""

    jobs: list[Job]
    output_format: str


def plan(
    inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], output_format: str | None = None
) -> Plan:
    """Plan the conversions that ``convert INPUT... -o OUTPUT`` makes.

    ``output`` is a file (its extension gives the format) for a single input
    file, else a folder: a file input's output goes straight into it, a folder
    input's tree is mirrored in it. From a folder, the ``.tag`` files are read
    (the label images -- .nrrd, .seg.nrrd, .nii[.gz], .mha, .mhd -- when the
    format is ``tag``); hidden files and the output folder are skipped.
    """
    sources = existing_inputs(inputs)
    target = Path(output)
    single, output_format = output_mode(sources, target, output_format)
    if single:
        return Plan([Job(sources[0], target)], output_format)
    formats = LABEL_IMAGE_FORMATS if output_format == "tag" else ("tag",)
    jobs = [
        Job(file, target / relative / output_name(file, output_format))
        for file, relative in input_files(sources, formats, target.resolve())
    ]
    return Plan(jobs, output_format)
