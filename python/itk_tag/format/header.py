r"""The ``.tag`` header in pure Python: the ``TagHeader`` record, the parser and the sniff.

A port of ``src/itkTagImageIO/itkTagHeader.cxx``, rule for rule and message for
message (the spec is ../shared/FORMAT.md plus the conformance corpus). Where each
shared rule lives in C++ and where both implementations are held to it:

=========================================  ================================  ==============================
rule                                       C++ (itkTagHeader.cxx)            corpus case
=========================================  ================================  ==============================
empty file                                 TagHeader::FromFileStart          ``empty``
MNI landmark magic                         TagHeader::FromFileStart          ``mni-landmarks``
starts with ``keyword:value`` (sniff)      SniffHeader                       ``form-feed-only``,
                                                                             ``binary-garbage``, ``utf16-*``
first form feed within 64 KiB              TagHeader::FromFileStart          ``no-form-feed``,
                                                                             ``form-feed-too-far``,
                                                                             ``long-comment-past-header-*``
separators `` ,\t\v``, CR/LF/CRLF, ``*``    Tokenize                          seeds ``valid-00..07``
control bytes refused                      Tokenize                          ``nul-in-header``
keyword chars, lower-cased, no duplicates  Tokenize                          ``duplicated-keyword*``
value: printable, not empty                Tokenize                          ``keyword-without-value``,
                                                                             ``nul-in-value``
x, y, z: digits only, 1..2^31              ParseDimension                    ``*-dimension*``
numbers: libstdc++ ``>> double``, finite   TagHeader::ParseNumber            ``nan-*``, ``inf-spacing``,
                                                                             ``overflowing-spacing``
type BYTE / SHORT, any case                InterpretGeometry                 ``unknown-type``, ``valid-06``
defaults, positive spacing                 InterpretGeometry                 ``zero-spacing``,
                                                                             ``negative-spacing``
zero (1e-12), parallel (1e-3) directions   Normalized, InterpretGeometry     ``zero-direction``,
                                                                             ``parallel-directions``
data fits the file, no overflow            CheckDataFits                     ``truncated-*``,
                                                                             ``overflowing-dimensions``
CanReadFile reads at most 64 KiB           FileLooksLikeTagHeader            ``can-read-file-refuses-*``
=========================================  ================================  ==============================

Every case runs through both parsers in test/python/test_conformance.py (test/data,
test/python/malformed_cases.py, fuzz/make_corpus.py seeds, fuzz/regressions/), and
fuzz/differential.py compares them on 100,000 mutated headers per CI run.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from .errors import tag_error

Vector3 = tuple[float, float, float]

MAXIMUM_HEADER_SIZE = 64 * 1024
"""A header is never larger than this (C++ ``TagHeader::MaximumHeaderSize``)."""
_READ_STEP = 4096
_MAXIMUM_DIMENSION = 1 << 31
_MNI_MAGIC = b"MNI Tag Point File"
_SEPARATORS = frozenset(b" ,\t\v")
_LINE_ENDS = frozenset(b"\n\r")
_BLANKS_AND_COMMENTS = re.compile(rb"(?:[ ,\t\v\n\r]|\*[^\n\r]*)*")
_KEYWORD = re.compile(rb"[A-Za-z0-9_]*")
_LOWER_KEYWORD = re.compile(rb"[a-z0-9_]+")
_VALUE = re.compile(rb"[\x21-\x7e]+")
# What libstdc++'s num_get collects for a double in the classic locale (sign, digits
# with one '.', an exponent only after a digit); strtod must then take all of it.
_NUMBER = re.compile(r"[+-]?(?=\.?[0-9])[0-9]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
# A token ends at a separator, a line end or a comment.
_TOKEN_END = re.compile(rb"[ ,\t\v\n\r*]")
_BAD_BYTE = re.compile(rb"[\x00-\x08\x0c\x0e-\x1f\x7f]")
_LINE_END = re.compile(rb"[\n\r]")


@dataclass(frozen=True)
class TagHeader:
    """The header of a sliceOmatic ``.tag`` file, as parsed by ``itk::TagHeader``.

    Geometry is in ITK's LPS convention, like DICOM. ``direction`` is the 3x3
    direction matrix flattened row by row (as SimpleITK's ``GetDirection()``);
    its columns are dir_h, dir_v and dir_h x dir_v, normalised.
    """

    path: str
    size: tuple[int, int, int]
    """Voxels along a row (x), a column (y), and number of slices (z)."""
    dtype: np.dtype
    """uint8 for ``type:BYTE``, uint16 for ``type:SHORT``."""
    origin: Vector3
    spacing: Vector3
    direction: tuple[float, ...]
    header_size: int
    """Bytes before the voxel data, the form feed included."""
    file_size: int
    keywords: dict[str, str] = field(default_factory=dict)
    """Every header keyword (lower case) and its value as written, in file order."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """Numpy shape of the voxels: (z, y, x)."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def data_size(self) -> int:
        """Bytes of voxel data the header announces."""
        return int(np.prod(self.size)) * self.dtype.itemsize


def parse_number(text: str) -> float | None:
    """The value of a header number as C++ ``TagHeader::ParseNumber`` reads it
    (libstdc++ ``istringstream >> double``, classic locale: no inf, nan or hex;
    overflow fails, underflow gives 0 or a subnormal), or None.
    """
    if _NUMBER.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _sniff(data: bytes) -> bool | None:
    """C++ ``SniffHeader``: True / False, or None while only blank lines, comments
    or a keyword have been seen (more bytes decide).
    """
    length = len(data)
    i = _BLANKS_AND_COMMENTS.match(data).end()
    end = _KEYWORD.match(data, i).end()
    if i == length or end == length:
        return None
    if end == i or data[end] != 0x3A:  # ':'
        return False
    if end + 1 == length:
        return None
    first = data[end + 1]
    return 0x20 < first < 0x7F and first not in b",*"


def _quoted(text: str | bytes) -> str:
    """C++ ``Quoted``: at most 40 characters, non-text shown as '?'."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    shown = text[:40] + "..." if len(text) > 40 else text
    return '"' + "".join(c if " " < c < "\x7f" else "?" for c in shown) + '"'


def _tokenize(text: bytes, path: str) -> dict[str, str]:
    """C++ ``Tokenize``: keyword:value pairs in file order."""
    bad = _BAD_BYTE.search(text)
    # C++ checks every byte it steps over; a bad byte inside a token fails the
    # token's own checks first (no token with one passes them).
    limit = bad.start() if bad else len(text)
    keywords: dict[str, str] = {}
    i = 0
    while i <= len(text):
        # Also after the last token: a comment may have run over the bad byte.
        if i >= limit and limit < len(text):
            problem = f"unexpected byte 0x{text[limit]:02x} at offset {limit} in the header"
            raise tag_error(path, problem + " (the header must be text)")
        if i == len(text):
            break
        c = text[i]
        if c in _LINE_ENDS or c in _SEPARATORS:
            i += 1
            continue
        if c == 0x2A:  # '*': a comment runs to the line end
            match = _LINE_END.search(text, i)
            i = match.start() if match else len(text)
            continue
        match = _TOKEN_END.search(text, i)
        end = match.start() if match else len(text)
        token = text[i:end]
        colon = token.find(b":")
        if colon <= 0:
            raise tag_error(path, f"unexpected text {_quoted(token)} in the header (expected keyword:value)")
        # bytes.lower() changes A-Z only, as C++ ToLower.
        keyword, value = token[:colon].lower(), token[colon + 1 :]
        name = keyword.decode("latin-1")
        if _LOWER_KEYWORD.fullmatch(keyword) is None:
            raise tag_error(path, f"invalid keyword {_quoted(keyword)} in the header")
        if not value:
            raise tag_error(path, f'keyword "{name}" has no value')
        if _VALUE.fullmatch(value) is None:
            raise tag_error(path, f'the value of "{name}" holds a non-text byte')
        if name in keywords:
            raise tag_error(path, f'keyword "{name}" appears more than once')
        keywords[name] = value.decode("ascii")
        i = end
    return keywords


def _dimension(keywords: dict[str, str], keyword: str, path: str) -> int:
    """C++ ``ParseDimension``."""
    value = keywords.get(keyword)
    if value is None:
        raise tag_error(path, f'the required keyword "{keyword}" is missing')
    if not all("0" <= c <= "9" for c in value):
        raise tag_error(path, f'"{keyword}" must be a positive whole number, not {_quoted(value)}')
    # More than 10 significant digits is too large, not "not a number".
    significant = value.lstrip("0")
    dimension = _MAXIMUM_DIMENSION + 1 if len(significant) > 10 else int(significant or "0")
    if dimension == 0 or dimension > _MAXIMUM_DIMENSION:
        raise tag_error(path, f'"{keyword}" must be between 1 and 2147483648, not {_quoted(value)}')
    return dimension


def _real(keywords: dict[str, str], keyword: str, default: float, path: str) -> float:
    """C++ ``ParseReal``."""
    text = keywords.get(keyword)
    if text is None:
        return default
    value = parse_number(text)
    if value is None:
        raise tag_error(path, f'"{keyword}" must be a finite number, not {_quoted(text)}')
    return value


def _vector(keywords: dict[str, str], prefix: str, default: Vector3, path: str) -> Vector3:
    """C++ ``ParseVector``: all three components once any is given (missing ones 0)."""
    if not any(prefix + axis in keywords for axis in "xyz"):
        return default
    x, y, z = (_real(keywords, prefix + axis, 0.0, path) for axis in "xyz")
    return (x, y, z)


def _norm(v: Vector3) -> float:
    # As C++: sqrt of the sum of squares in this order (math.hypot rounds differently).
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _cross(a: Vector3, b: Vector3) -> Vector3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _normalized(v: Vector3, name: str, path: str) -> Vector3:
    """C++ ``Normalized``: refuses a norm not above 1e-12 (or not finite)."""
    norm = _norm(v)
    if not (norm > 1e-12) or not math.isfinite(norm):
        raise tag_error(path, f"the direction {name} is a zero vector")
    return (v[0] / norm, v[1] / norm, v[2] / norm)


def _parse(data: bytes, header_size: int, file_size: int, path: str) -> TagHeader:
    """C++ ``TagHeader::Parse``: ``data[:header_size]`` ends with the form feed."""
    keywords = _tokenize(data[: header_size - 1], path)
    size = (_dimension(keywords, "x", path), _dimension(keywords, "y", path), _dimension(keywords, "z", path))
    dtype = np.dtype(np.uint8)
    if "type" in keywords:
        kind = keywords["type"].lower()
        if kind == "short":
            dtype = np.dtype(np.uint16)
        elif kind != "byte":
            raise tag_error(path, f"unsupported type {_quoted(keywords['type'])} (expected BYTE or SHORT)")
    origin: list[float] = []
    spacing: list[float] = []
    for origin_key, spacing_key in zip(("org_x", "org_y", "org_z"), ("inc_x", "inc_y", "epais")):
        origin.append(_real(keywords, origin_key, 0.0, path))
        spacing.append(_real(keywords, spacing_key, 1.0, path))
        if not spacing[-1] > 0.0:
            raise tag_error(path, f'"{spacing_key}" must be a positive spacing, not {keywords[spacing_key]}')
    row = _normalized(_vector(keywords, "dir_h_", (1.0, 0.0, 0.0), path), "dir_h", path)
    column = _normalized(_vector(keywords, "dir_v_", (0.0, 1.0, 0.0), path), "dir_v", path)
    slice_direction = _cross(row, column)
    # Unit vectors closer than about 0.06 degrees cannot span an image plane.
    if _norm(slice_direction) < 1e-3:
        raise tag_error(path, "the directions dir_h and dir_v are parallel")
    columns = (row, column, _normalized(slice_direction, "dir_h x dir_v", path))

    # C++ CheckDataFits: SizeValueType is 64 bits.
    data_size = dtype.itemsize * size[0] * size[1] * size[2]
    if data_size >= 1 << 64:
        raise tag_error(path, "the image size x*y*z overflows")
    available = file_size - header_size
    if data_size > available:
        raise tag_error(
            path,
            f"truncated data: the header announces {size[0]}x{size[1]}x{size[2]} voxels ({data_size} bytes) "
            f"but only {available} bytes follow the header",
        )
    return TagHeader(
        path=path,
        size=size,
        dtype=dtype,
        origin=(origin[0], origin[1], origin[2]),
        spacing=(spacing[0], spacing[1], spacing[2]),
        direction=tuple(columns[col][row_index] for row_index in range(3) for col in range(3)),
        header_size=header_size,
        file_size=file_size,
        keywords=keywords,
    )


def parse_header(data: bytes, file_size: int, path: str) -> TagHeader:
    """Parses a header from the first bytes of a file, as C++ ``TagHeader::FromFileStart``.

    ``data`` is what a reader read from the start of the file (at least up to the
    first form feed, or 64 KiB; bytes past 64 KiB are ignored), ``file_size`` the
    size of the whole file in bytes, ``path`` only names the file in messages.
    Raises TagFileError (``sliceOmatic .tag file "<path>": <problem>``).
    """
    if file_size == 0:
        raise tag_error(path, "the file is empty")
    data = bytes(data[:MAXIMUM_HEADER_SIZE])
    if data.startswith(_MNI_MAGIC):
        raise tag_error(path, "is an MNI tag point (landmark) file, not a sliceOmatic tag file")
    form_feed = data.find(b"\f")
    header_size = form_feed + 1 if form_feed >= 0 else len(data)
    if _sniff(data[:header_size]) is not True:
        raise tag_error(path, "not a sliceOmatic tag file (it does not start with a keyword:value header)")
    if form_feed < 0:
        within = f" within the first {MAXIMUM_HEADER_SIZE} bytes" if file_size > MAXIMUM_HEADER_SIZE else ""
        raise tag_error(path, "no form feed (0x0C) ends the header" + within)
    if header_size > file_size:
        raise tag_error(
            path, "internal error: the header passed to the parser does not end with its form feed"
        )
    return _parse(data, header_size, file_size, path)


def open_tag(path: str | os.PathLike[str]) -> BinaryIO:
    """Opens ``path`` for reading, unbuffered, with the errors of the native binding:
    FileNotFoundError / IsADirectoryError for a path that is no file, TagFileError
    (``cannot be opened: <reason>``, as C++) for a file that cannot be opened.
    """
    name = os.fspath(path)
    if stat.S_ISDIR(os.stat(name).st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
    try:
        return open(name, "rb", buffering=0)
    except OSError as error:
        raise tag_error(name, f"cannot be opened: {os.strerror(error.errno or 0)}") from None


def read_file_header(file: BinaryIO, path: str) -> TagHeader:
    """Parses the header of an open file, read from its start up to its first form
    feed in 4 KiB steps (at most 64 KiB), as C++ ``TagHeader::Read``.
    """
    file_size = os.fstat(file.fileno()).st_size
    limit = min(file_size, MAXIMUM_HEADER_SIZE)
    file.seek(0)
    data = bytearray()
    while len(data) < limit:
        chunk = file.read(min(_READ_STEP, limit - len(data)))
        if not chunk:
            raise tag_error(path, "read error while reading the header")
        data += chunk
        if b"\f" in chunk:
            break
    return parse_header(bytes(data), file_size, path)


def read_header(path: str | os.PathLike[str]) -> TagHeader:
    """Parses the header of ``path`` without reading voxels (pure Python, C++ ``TagHeader::Read``).

    Raises TagFileError (file name and problem) for a file that is not a valid
    ``.tag`` or cannot be opened, FileNotFoundError / IsADirectoryError for a path
    that is no file.
    """
    with open_tag(path) as file:
        return read_file_header(file, os.fspath(path))


def looks_like_tag(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like a sliceOmatic header (C++ ``TagHeader::FileLooksLikeTagHeader``,
    what ``CanReadFile`` answers): reads only as much as it takes to decide, at most 64 KiB.
    False for a folder or a file that cannot be read.
    """
    try:
        with open(path, "rb") as file:
            data = b""
            while len(data) < MAXIMUM_HEADER_SIZE:
                chunk = file.read(_READ_STEP)
                start = len(data)
                data += chunk
                form_feed = data.find(b"\f", start)
                if form_feed >= 0:
                    return _sniff(data[: form_feed + 1]) is True
                decided = _sniff(data)
                if decided is not None or not chunk:
                    return decided is True
    except OSError:
        return False
    return False
