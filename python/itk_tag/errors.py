"""The errors of itk-tag's batch work and hosts, in one place, and the one-line reason each gives.

Under the rooms: it imports nothing of the package, so :mod:`itk_tag.hosts` and
:mod:`itk_tag.batch` import it without importing up (docs/architecture.md).
``TagFileError`` (a broken ``.tag``) stays with the format it is about
(:mod:`itk_tag.format.errors`).
"""

from __future__ import annotations

import errno
from pathlib import Path


class UsageError(ValueError):
    """The inputs, output and options of a run do not go together (nothing was done)."""


class ReferenceImageError(ValueError):
    """No usable reference image for a tag (the message says what was looked for)."""


class GeometryMismatchError(ValueError):
    """A tag and its reference image are not the same grid (the message lists the differences)."""


class LabelsError(ValueError):
    """A label file or convention name that cannot be used (the message says why)."""


class OutputExistsError(FileExistsError):
    """The output file exists and overwriting was not asked for."""

    def __init__(self, destination: Path, why: str = "output exists (--overwrite replaces it)") -> None:
        super().__init__(errno.EEXIST, why, str(destination))


class OutputWriteError(OSError):
    """Writing an output failed (read-only folder, full disk, ...); the message
    names the output the user asked for, not the temporary file.
    """


def itk_reason(error: BaseException) -> str:
    """Return the useful last part of an ITK exception message (SimpleITK prefixes file and line)."""
    text = str(error).strip()
    for marker in ("ITK ERROR: ", "itk::ERROR: ", "sitk::ERROR: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
            source, separator, rest = text.partition(": ")
            if separator and source.endswith(")"):  # "TagImageIO(0x55d1...): message"
                text = rest
    return " ".join(text.split())


def reason_of(error: BaseException) -> str:
    """Return the one-line reason an exception gives."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return itk_reason(error) or type(error).__name__


class OutputOutdatedError(OutputExistsError):
    """The output exists and records other options than this run's (a rerun does not skip it silently)."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM: the work handed out was ended and nothing partial was left.

    ``signal`` is the signal's number; ``report`` is what was done (a
    :class:`itk_tag.Report` or :class:`itk_tag.Measurements`), set by the command that ran.
    """

    def __init__(self, signal: int, report: object = None) -> None:
        super().__init__(f"interrupted by signal {signal}")
        self.signal = signal
        self.report = report
