"""Writes the seed corpus of the ``.tag`` fuzzer into a folder.

Seeds: the real sample files (test/data), valid files covering every rule
of the format (the cases of test/itkTagImageIOTest.cxx), the real headers
with a small image size so that they read through, and every file of the
malformed-input table (test/python/malformed_cases.py).

    python3 fuzz/make_corpus.py OUTPUT_FOLDER
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "python"))

import malformed_cases  # noqa: E402

# Headers of the valid files of itkTagImageIOTest.cxx (GeneratedCases): size, SHORT or not.
VALID_HEADERS: list[tuple[bytes, int]] = [
    (b"x:4 y:3 z:1 type:BYTE\r\norg_x:1.5 org_y:-2.25 org_z:3\r\ninc_x:0.5 inc_y:0.25 epais:2\r\n\f", 12),
    (b"x:4 y:3 z:1 type:BYTE\rorg_x:1 org_y:2 org_z:3\rinc_x:0.5 inc_y:0.5 epais:1\r\f", 12),
    (
        b"x:4 y:3 z:1 type:BYTE\norg_x:0 org_y:0 org_z:0\ninc_x:1 inc_y:1 epais:1\n"
        b"uid:00000001 chksum:ABCDEF01 \f",
        12,
    ),
    (b"x:4 y:3 z:1 type:BYTE\nepais:5.0000\n\f", 12),
    (
        b"* sliceOmatic tag: version 4.3: test\nx:4 y:3 z:1 type:BYTE * trailing: comment\n"
        b"* number of echos: 0\ninc_x:0.7105 inc_y:0.7105 epais:5.0000\n\f",
        12,
    ),
    (b"x:4,y:3,\tz:1\ttype:BYTE,\norg_x:-204.2221,org_y:-181.8909,\torg_z:-250.0000\n\f", 12),
    (b"X:4 Y:3 Z:1 TYPE:byte\nORG_X:7 Org_Y:8 org_z:9\nINC_X:2 INC_Y:3 EPAIS:4\n\f", 12),
    (
        b"x:4 y:3 z:1 type:BYTE\nuid:AFCCCAC6 chksum:09F1588D bin:256 dim_x:2.8420 future_key:a:b\n"
        b"* number of echos: 0\n\f",
        12,
    ),
    (b"x:5 y:4 z:6 type:BYTE\norg_x:10 org_y:20 org_z:30\ninc_x:0.5 inc_y:0.5 epais:2.5\n\f", 120),
    (
        b"x:6 y:5 z:3 type:BYTE\norg_x:-10.1234 org_y:5.5 org_z:100\ninc_x:0.8 inc_y:0.9 epais:3\n"
        b"dir_h_x:0.8660 dir_h_y:0.5000 dir_h_z:0.0000\ndir_v_x:-0.3536 dir_v_y:0.6124 dir_v_z:0.7071\n\f",
        90,
    ),
    (b"x:16 y:16 z:1 type:BYTE\n\f", 256),
    (b"x:7 y:3 z:2 type:SHORT\ninc_x:1.25 inc_y:1.25 epais:1.25\n\f", 84),
]

REAL_FILES = ["sandbox-test01.dcm.tag", "barbell2-10.tag"]


def _voxels(count: int) -> bytes:
    """Voxel bytes that differ from one to the next and cover 128-255."""
    return bytes((i * 37 + 200) % 256 for i in range(count))


def seeds() -> dict[str, bytes]:
    """Every seed, by a descriptive name."""
    result: dict[str, bytes] = {}
    for name in REAL_FILES:
        content = (malformed_cases.DATA / name).read_bytes()
        result[f"real-{name}"] = content
        # The real header with a 16x16 image: reads through, geometry and all.
        header = content[: content.index(b"\f") + 1].replace(b"x:512", b"x:16  ").replace(b"y:512", b"y:16  ")
        result[f"real-header-16x16-{name}"] = header + _voxels(256)
    for index, (header, data_bytes) in enumerate(VALID_HEADERS):
        result[f"valid-{index:02d}.tag"] = header + _voxels(data_bytes)
    for case in malformed_cases.cases():
        if case.kind == malformed_cases.FILE:
            result[f"malformed-{case.file_name}"] = case.content
    return result


def main(argv: list[str]) -> int:
    """Command line: ``make_corpus.py OUTPUT_FOLDER``."""
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTPUT_FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in seeds().items():
        # The hash keeps two seeds with equal names but different bytes apart.
        digest = hashlib.sha1(content).hexdigest()[:8]
        (folder / f"{name}-{digest}").write_bytes(content)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
