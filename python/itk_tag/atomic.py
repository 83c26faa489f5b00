"""Writing an output file all at once: either the whole file appears, or nothing does.

The writer writes a hidden temporary file in the destination folder (same
file system, so the final rename is atomic); the temporary file is removed if
anything fails or the run is interrupted.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputExistsError(FileExistsError):
    """The output file exists and overwriting was not asked for."""

    def __init__(self, destination: Path) -> None:
        super().__init__(errno.EEXIST, "output exists (--overwrite replaces it)", str(destination))


class OutputWriteError(OSError):
    """Writing an output failed (read-only folder, full disk, ...); the message
    names the output the user asked for, not the temporary file.
    """


def temporary_path(destination: Path, extension: str) -> Path:
    """Return a hidden, unique name beside ``destination`` ending in ``.extension``.

    The extension stays last because ITK picks a file's writer by it. The name is ASCII
    (other characters become ``_``): on Windows, ITK's NRRD, NIfTI and MetaImage writers
    open the path in the ANSI code page, so a non-ASCII name came out garbled, the rename
    found no file, and the garbled one stayed (Windows (wine), test_wine.py::test_cli).
    """
    name = destination.name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return destination.with_name(f".{name}.{secrets.token_hex(4)}.partial.{extension}")


def _publish(temporary: Path, destination: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temporary, destination)
        return
    try:
        # A hard link fails if the destination exists, even if it appeared
        # after the run started: nothing is ever overwritten by accident.
        os.link(temporary, destination)
    except FileExistsError:
        raise OutputExistsError(destination) from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # A file system without hard links: check, then rename.
        if destination.exists():
            raise OutputExistsError(destination) from None
        os.replace(temporary, destination)
        return
    temporary.unlink()


@contextmanager
def atomic_output(destination: Path, extension: str, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes ``destination``.

    Raises OutputExistsError, and leaves the existing file alone, when
    ``destination`` exists and ``overwrite`` is false.
    """
    if destination.exists() and not overwrite:
        raise OutputExistsError(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(destination, extension)
    try:
        try:
            yield temporary
        except (OSError, RuntimeError, ValueError) as error:
            # Writers only know the temporary name; the user knows the output's.
            reason = str(error).replace(str(temporary), str(destination))
            if isinstance(error, OSError):
                raise OutputWriteError(f"{destination}: cannot write: {reason}") from error
            raise type(error)(reason) from error
        try:
            _publish(temporary, destination, overwrite)
        except OutputExistsError:
            raise
        except OSError as error:
            # E.g. Windows refuses to replace a file another program holds open; the message
            # named the temporary file (Windows (wine), test_wine.py::test_cli).
            raise OutputWriteError(f"{destination}: cannot replace: {error.strerror or error}") from error
    finally:
        if temporary.exists():
            temporary.unlink()
