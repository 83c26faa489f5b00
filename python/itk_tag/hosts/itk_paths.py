"""The spelling of a path to hand to ITK's own file readers and writers.

On Windows, ITK's NRRD, NIfTI and MetaImage readers and writers open paths with the C
library's narrow functions, in the ANSI code page, while SimpleITK hands them UTF-8: a
folder or file name that is not ASCII is not found, or is created garbled (measured
under wine with SimpleITK 2.5.7: test_wine.py::test_cli). Windows gives most existing
folders an ASCII 8.3 short name as well, which those functions open fine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _short_name(path: str) -> str | None:
    """The 8.3 short form of an existing ``path`` (Windows), or None where there is none."""
    import ctypes

    buffer = ctypes.create_unicode_buffer(32768)
    length = ctypes.windll.kernel32.GetShortPathNameW(path, buffer, len(buffer))  # type: ignore[attr-defined]
    return buffer.value if 0 < length < len(buffer) else None


def itk_path(path: Path) -> str:
    """``str(path)``, except on Windows for a path that is not ASCII: its folder's short form
    and the file's own name, where the folder has a short form and the name is ASCII (the
    file's own short form would not do: ITK picks its reader and writer by the extension,
    which an 8.3 name cuts to three letters). Elsewhere, or otherwise, the path as it is:
    ITK then reports the file it could not open. Output names are ASCII already
    (itk_tag.batch.writers.temporary_path).
    """
    text = str(path)
    if sys.platform != "win32" or text.isascii() or not path.name.isascii():
        return text
    folder = _short_name(str(path.absolute().parent))
    return os.path.join(folder, path.name) if folder is not None and folder.isascii() else text
