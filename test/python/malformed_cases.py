"""The malformed-input table: broken, truncated and look-alike ``.tag`` files.

One table for every entry point. pytest imports it (``test_malformed.py``:
``itk_tag.read_array``, ``itk.imread``, ``sitk.ReadImage``, the command line);
ctest runs it as a script to write the files and a manifest for the C++
reader and the ``ITK_AUTOLOAD_PATH`` plugin host (``itkTagMalformedTest``);
``fuzz/make_corpus.py`` turns it into fuzzing seeds. Standard library only:
ctest runs it with the system ``python3``.

Each case states the problem the reader must name, and whether
``CanReadFile`` claims the file. ITK hosts (ImageFileReader, ITK Python,
SimpleITK) only hand claimed files to the reader; for the others they give
their own "no ImageIO" error, which names the file but cannot know the
problem.

    python3 malformed_cases.py OUTPUT_FOLDER   # writes the files and manifest.tsv
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"

FILE = "file"
DIRECTORY = "directory"
UNREADABLE = "unreadable"

_DATA12 = b"\x01" * 12
_VALID = b"x:4 y:3 z:1 type:BYTE\n"


@dataclass(frozen=True)
class MalformedCase:
    """One malformed input and what every reader must say about it."""

    name: str
    content: bytes
    problem: str
    """Part of the reader's message (compared case-insensitively)."""
    claimed: bool
    """Whether TagImageIO::CanReadFile claims it, so ITK hosts report ``problem`` too."""
    kind: str = FILE
    """FILE; DIRECTORY (a folder named like a tag); UNREADABLE (a file without read permission)."""

    @property
    def file_name(self) -> str:
        """Name of the case's file (or folder) in the output folder."""
        return f"{self.name}.tag"


def _real_prefix(name: str, data_bytes: int) -> bytes:
    """A real sample cut ``data_bytes`` after its form feed: a copy cut short."""
    content = (DATA / name).read_bytes()
    return content[: content.index(b"\f") + 1 + data_bytes]


def cases() -> list[MalformedCase]:
    """Every malformed case, in a stable order."""
    # An MNI landmark file shares the .tag extension (FORMAT.md).
    mni = b'MNI Tag Point File\nVolumes = 1;\n% Volume 1: t1.mnc\n\nPoints =\n 1.0 2.0 3.0 "nasion";\n'
    return [
        MalformedCase("empty", b"", "the file is empty", claimed=False),
        MalformedCase("form-feed-only", b"\f" + _DATA12, "not a sliceOmatic tag file", claimed=False),
        MalformedCase("no-form-feed", _VALID + _DATA12, "no form feed", claimed=True),
        MalformedCase(
            "form-feed-too-far",
            _VALID + b"* " + b"a" * 70000 + b"\n\f" + _DATA12,
            "no form feed (0x0C) ends the header within the first 65536 bytes",
            claimed=True,
        ),
        # Only the first 64 KiB decide, in the reader as in CanReadFile: a header that
        # starts after them is not one (it was "no form feed" for the reader before).
        MalformedCase(
            "long-comment-past-header-cap",
            b"* " + b"a" * 66000 + b"\n" + _VALID + b"\f" + _DATA12,
            "not a sliceOmatic tag file",
            claimed=False,
        ),
        MalformedCase("truncated-data", _VALID + b"\f" + _DATA12[:11], "truncated data", claimed=True),
        MalformedCase(
            "truncated-short",
            b"x:4 y:3 z:1 type:SHORT\n\f" + _DATA12 + _DATA12[:11],
            "truncated data",
            claimed=True,
        ),
        MalformedCase(
            "truncated-real-file", _real_prefix("sandbox-test01.dcm.tag", 1000), "truncated data", True
        ),
        MalformedCase("header-only-real-file", _real_prefix("barbell2-10.tag", 0), "truncated data", True),
        MalformedCase("missing-z", b"x:4 y:3\n\f" + _DATA12, '"z" is missing', claimed=True),
        MalformedCase("zero-dimension", b"x:0 y:3 z:1\n\f" + _DATA12, '"x" must be between 1 and', True),
        MalformedCase(
            "negative-dimension", b"x:4 y:-3 z:1\n\f" + _DATA12, '"y" must be a positive whole', True
        ),
        MalformedCase(
            "non-numeric-dimension", b"x:4 y:3 z:one\n\f" + _DATA12, '"z" must be a positive whole', True
        ),
        MalformedCase(
            "fractional-dimension", b"x:4.0 y:3 z:1\n\f" + _DATA12, '"x" must be a positive whole', True
        ),
        MalformedCase(
            "overflowing-dimension-text",
            b"x:99999999999999999999999 y:3 z:1\n\f" + _DATA12,
            '"x" must be between 1 and 2147483648',
            claimed=True,
        ),
        MalformedCase(
            "overflowing-dimensions",
            b"x:2147483648 y:2147483648 z:2147483648 type:SHORT\n\f" + _DATA12,
            "overflows",
            claimed=True,
        ),
        # 8 EiB announced by a 200-byte file: must fail before allocating.
        MalformedCase(
            "huge-dimensions",
            b"x:2147483648 y:2147483648 z:1\n\f" + b"\x00" * 170,
            "truncated data",
            claimed=True,
        ),
        MalformedCase(
            "nan-spacing", _VALID + b"inc_x:nan\n\f" + _DATA12, '"inc_x" must be a finite number', True
        ),
        MalformedCase(
            "inf-spacing", _VALID + b"inc_y:-inf\n\f" + _DATA12, '"inc_y" must be a finite number', True
        ),
        MalformedCase(
            "overflowing-spacing",
            _VALID + b"epais:1e999\n\f" + _DATA12,
            '"epais" must be a finite number',
            True,
        ),
        MalformedCase(
            "non-numeric-spacing", _VALID + b"inc_x:0,7105\n\f" + _DATA12, 'unexpected text "7105"', True
        ),
        MalformedCase(
            "zero-spacing", _VALID + b"inc_x:0.0000\n\f" + _DATA12, '"inc_x" must be a positive', True
        ),
        MalformedCase(
            "negative-spacing", _VALID + b"epais:-5.0000\n\f" + _DATA12, '"epais" must be a positive', True
        ),
        MalformedCase(
            "nan-origin",
            _VALID + b"org_x:nan org_y:0 org_z:0\n\f" + _DATA12,
            '"org_x" must be a finite',
            True,
        ),
        MalformedCase(
            "zero-direction",
            _VALID + b"dir_h_x:0.0000 dir_h_y:0.0000 dir_h_z:0.0000\n\f" + _DATA12,
            "dir_h is a zero vector",
            claimed=True,
        ),
        MalformedCase(
            "parallel-directions",
            _VALID + b"dir_h_x:1 dir_h_y:0 dir_h_z:0\ndir_v_x:-2 dir_v_y:0 dir_v_z:0\n\f" + _DATA12,
            "dir_h and dir_v are parallel",
            claimed=True,
        ),
        MalformedCase(
            "nan-direction",
            _VALID + b"dir_v_x:0 dir_v_y:nan dir_v_z:0\n\f" + _DATA12,
            '"dir_v_y" must be a finite number',
            claimed=True,
        ),
        MalformedCase(
            "unknown-type", b"x:4 y:3 z:1 type:FLOAT\n\f" + _DATA12, 'unsupported type "FLOAT"', True
        ),
        MalformedCase(
            "duplicated-keyword", _VALID + b"x:4\n\f" + _DATA12, '"x" appears more than once', True
        ),
        MalformedCase(
            "duplicated-keyword-other-case",
            _VALID + b"ORG_X:1 org_x:2\n\f" + _DATA12,
            '"org_x" appears more than once',
            claimed=True,
        ),
        MalformedCase("keyword-without-value", b"x:4 y:3 z: 1\n\f" + _DATA12, '"z" has no value', True),
        MalformedCase("nul-in-header", b"x:4 y:3 z:1 \x00\n\f" + _DATA12, "unexpected byte 0x00", True),
        MalformedCase("nul-in-value", b"x:4 y:3 z:1\x00\n\f" + _DATA12, '"z" holds a non-text byte', True),
        MalformedCase(
            "binary-garbage",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
            "not a sliceOmatic tag file",
            claimed=False,
        ),
        # A header saved as UTF-16 by a Windows editor.
        MalformedCase(
            "utf16-header",
            "x:4 y:3 z:1\n".encode("utf-16-le") + b"\f\x00" + _DATA12,
            "not a sliceOmatic tag file",
            claimed=False,
        ),
        MalformedCase("mni-landmarks", mni, "MNI tag point", claimed=False),
        MalformedCase("directory", b"", "is a directory", claimed=False, kind=DIRECTORY),
        MalformedCase(
            "unreadable", _VALID + b"\f" + _DATA12, "Permission denied", claimed=False, kind=UNREADABLE
        ),
    ]


def write_case(case: MalformedCase, folder: Path) -> Path:
    """Creates the case's file (or folder) in ``folder``; returns its path."""
    path = folder / case.file_name
    if case.kind == DIRECTORY:
        path.mkdir(exist_ok=True)
        return path
    if path.exists():
        os.chmod(path, 0o600)
    path.write_bytes(case.content)
    if case.kind == UNREADABLE:
        # Root reads it anyway: readers of this case must drop privileges.
        os.chmod(path, 0)
    return path


def write_all(folder: Path) -> Path:
    """Writes every case into ``folder`` and ``manifest.tsv`` describing them.

    A manifest line is ``name<TAB>path<TAB>kind<TAB>claimed (0/1)<TAB>problem``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for case in cases():
        path = write_case(case, folder)
        lines.append("\t".join([case.name, str(path), case.kind, str(int(case.claimed)), case.problem]))
    manifest = folder / "manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str]) -> int:
    """Command line: ``malformed_cases.py OUTPUT_FOLDER``."""
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTPUT_FOLDER", file=sys.stderr)
        return 2
    print(write_all(Path(argv[1]).resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
