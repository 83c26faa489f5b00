"""Writing a ``.tag`` file: the same bytes as C++ ``TagImageIO::Write`` for the same image."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping, Sequence

import numpy as np

from .errors import TagFileError
from .header import MAXIMUM_HEADER_SIZE, parse_number

Vector3 = tuple[float, float, float]

# Keywords the writer derives from the image; metadata copies of them are ignored.
GEOMETRY_KEYWORDS = frozenset(
    "x y z type org_x org_y org_z inc_x inc_y epais dir_h_x dir_h_y dir_h_z dir_v_x dir_v_y dir_v_z".split()
)
# Optional keywords in the order sliceOmatic writes them; the others follow sorted.
_LEADING_EXTRA_KEYWORDS = ("uid", "chksum", "bin", "dim_x", "dim_y")
_EXTRA_KEYWORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
# ImageIOBase::GetComponentTypeAsString of the pixel type ITK maps each numpy type to (LP64).
_ITK_COMPONENT_NAMES = {
    "i1": "char",
    "u1": "unsigned_char",
    "i2": "short",
    "u2": "unsigned_short",
    "i4": "int",
    "u4": "unsigned_int",
    "i8": "long",
    "u8": "unsigned_long",
    "f4": "float",
    "f8": "double",
}


def _format_real(value: float) -> str:
    """C++ ``FormatReal``: 4 decimals (sliceOmatic's), never "-0.0000"."""
    text = f"{value:.4f}"
    return "0.0000" if text == "-0.0000" else text


def _ostream(value: float) -> str:
    """A double as a default C++ ostream prints it (``%g``; glibc writes "-nan")."""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return f"{value:g}"


def _field(keyword: str, value: str, width: int) -> str:
    """C++ ``Field``: "key:value" padded to key + width characters, and at least one space."""
    text = f"{keyword}:{value}"
    minimum = len(keyword) + 1 + width
    return text + " " * (minimum - len(text) if len(text) < minimum else 1)


def _unit(v: Vector3) -> Vector3:
    """C++ ``Unit``, IEEE division included: a zero vector gives NaN (or inf) components."""
    norm = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    if norm == 0.0:
        return tuple(math.nan if c == 0.0 else math.copysign(math.inf, c) for c in v)  # type: ignore[return-value]
    return (v[0] / norm, v[1] / norm, v[2] / norm)


def _cross(a: Vector3, b: Vector3) -> Vector3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _metadata_number(metadata: Mapping[str, object], keyword: str, fallback: float) -> float:
    """C++ ``ParseRealOr`` on a metadata entry: its number, or ``fallback``."""
    text = metadata.get(keyword)
    value = parse_number(text) if isinstance(text, str) else None
    return fallback if value is None else value


def _extra_keywords(metadata: Mapping[str, object]) -> list[tuple[str, str]]:
    """The metadata entries written back (C++ ``IsExtraKeyword`` / ``IsSingleToken``),
    in the C++ order: sliceOmatic's leading keywords, then the rest sorted.
    """
    strings = {key: value for key, value in metadata.items() if isinstance(value, str)}
    order = [key for key in _LEADING_EXTRA_KEYWORDS if key in strings]
    order += [key for key in sorted(strings) if key not in order]
    return [(key, strings[key]) for key in order if is_extra_keyword(key, strings[key])]


def is_extra_keyword(key: str, value: object) -> bool:
    """True for a metadata entry the writer writes back (C++ ``IsExtraKeyword`` /
    ``IsSingleToken``): a string value of one token (printable ASCII, no ``,`` or
    ``*``) under a lower-case keyword that is not geometry.
    """
    return (
        isinstance(value, str)
        and bool(key)
        and key not in GEOMETRY_KEYWORDS
        and all(c in _EXTRA_KEYWORD_CHARS for c in key)
        and bool(value)
        and all(" " < c < "\x7f" and c not in ",*" for c in value)
    )


def make_header_text(
    path: str,
    voxels: np.ndarray,
    origin: Sequence[float],
    spacing: Sequence[float],
    direction: Sequence[float],
    metadata: Mapping[str, object],
) -> bytes:
    """The header C++ ``TagImageIO::MakeHeaderText`` writes for this image, form feed
    included. Arguments as for :func:`write_tag`; raises its TagFileError refusals.
    """

    def refuse(problem: str) -> TagFileError:
        return TagFileError(f'cannot write "{path}": {problem}')

    dimensions = voxels.ndim
    if dimensions not in (2, 3):
        raise refuse(f"a .tag file holds a 2D or 3D image, not {dimensions}D")
    code = f"{voxels.dtype.kind}{voxels.dtype.itemsize}"
    if code not in ("u1", "u2"):
        raise refuse(
            "a .tag file holds unsigned char (BYTE) or unsigned short (SHORT) voxels, not "
            + _ITK_COMPONENT_NAMES.get(code, str(voxels.dtype))
        )
    if len(origin) != dimensions or len(spacing) != dimensions or len(direction) != dimensions**2:
        raise ValueError(
            f"a {dimensions}D image needs {dimensions} origin and spacing values and "
            f"{dimensions**2} direction values, not {len(origin)}, {len(spacing)} and {len(direction)}"
        )
    size = voxels.shape[::-1]  # (x, y[, z])
    position = [0.0, 0.0, 0.0]
    steps = [1.0, 1.0, 1.0]
    row = [1.0, 0.0, 0.0]
    column = [0.0, 1.0, 0.0]
    for i in range(dimensions):
        position[i] = float(origin[i])
        steps[i] = float(spacing[i])
        # Row by row: element (i, j) is the i-th coordinate of axis j.
        row[i] = float(direction[i * dimensions])
        column[i] = float(direction[i * dimensions + 1])
    if dimensions == 2:
        # A 2D image read from a one-slice tag keeps its slice position and thickness.
        position[2] = _metadata_number(metadata, "org_z", 0.0)
        steps[2] = _metadata_number(metadata, "epais", 1.0)
    row_unit = _unit((row[0], row[1], row[2]))
    column_unit = _unit((column[0], column[1], column[2]))
    slice_unit = _unit(_cross(row_unit, column_unit))
    if not all(math.isfinite(c) for c in slice_unit):
        raise refuse("the row and column directions are zero or parallel")
    # With more than one slice the slice axis places voxels, and the format can
    # only store dir_h x dir_v; with one slice it places nothing.
    if dimensions == 3 and size[2] > 1:
        third = _unit((float(direction[2]), float(direction[5]), float(direction[8])))
        if not all(abs(third[i] - slice_unit[i]) <= 1e-4 for i in range(3)):
            shown, expected = (", ".join(_ostream(c) for c in v) for v in (third, slice_unit))
            raise refuse(
                f"the slice direction ({shown}) is not dir_h x dir_v ({expected}); "
                "a .tag file cannot store it (reorient the image first)"
            )
    for i in range(3):
        stored = parse_number(_format_real(steps[i]))
        if not math.isfinite(position[i]) or not (stored or 0.0) > 0.0:
            raise refuse(
                f"origin {_ostream(position[i])} or spacing {_ostream(steps[i])} along axis {i} "
                "cannot be stored with the 4 decimals of a .tag file"
            )

    slices = size[2] if dimensions == 3 else 1
    kind = "BYTE" if voxels.dtype.itemsize == 1 else "SHORT"
    lines = [
        _field("x", str(size[0]), 7) + _field("y", str(size[1]), 7) + _field("z", str(slices), 7),
        "".join(_field(k, _format_real(v), 11) for k, v in zip(("org_x", "org_y", "org_z"), position)),
        "".join(_field(k, _format_real(v), 11) for k, v in zip(("inc_x", "inc_y", "epais"), steps)),
        "".join(_field(k, _format_real(v), 11) for k, v in zip(("dir_h_x", "dir_h_y", "dir_h_z"), row_unit)),
        "".join(
            _field(k, _format_real(v), 11) for k, v in zip(("dir_v_x", "dir_v_y", "dir_v_z"), column_unit)
        ),
    ]
    lines[0] += _field("type", kind, 5)
    text = "\n".join(lines) + "\n" + "".join(f"{k}:{v} " for k, v in _extra_keywords(metadata)) + "\f"
    # Long metadata could make a header no reader accepts: refuse rather than write it.
    if len(text) > MAXIMUM_HEADER_SIZE:
        raise refuse(
            f"the header would take {len(text)} bytes, more than the {MAXIMUM_HEADER_SIZE} a .tag reader "
            "accepts (remove the long metadata entries)"
        )
    return text.encode("ascii")


def write_tag(
    path: str | os.PathLike[str],
    voxels: np.ndarray,
    origin: Sequence[float],
    spacing: Sequence[float],
    direction: Sequence[float],
    metadata: Mapping[str, object],
) -> None:
    """Writes ``voxels`` as the ``.tag`` file ``path``, byte for byte as C++ ``TagImageIO::Write``.

    ``voxels``: uint8 (BYTE) or uint16 (SHORT, written little-endian), shape (y, x)
    or (z, y, x). ``origin`` and ``spacing`` (mm, LPS, x first) have one value per
    axis, ``direction`` the ndim x ndim direction matrix flattened row by row (as
    SimpleITK's ``GetDirection()``). ``metadata`` is the image's metadata: its
    string entries with a lower-case keyword and a one-token value are written
    back, and for a 2D image ``org_z`` / ``epais`` give the slice position and
    thickness. The file appears atomically: written to ``<path>.itk-tag-tmp-<hex>``
    beside it (the C++ writer's name) and renamed over ``path``; the temporary
    file is removed on any error.

    Raises TagFileError (``cannot write "<path>": <problem>``, the C++ wording) for
    an image a ``.tag`` file cannot hold, OSError when the file cannot be written,
    ValueError when origin, spacing or direction do not match ``voxels.ndim``.
    """
    name = os.fspath(path)
    header = make_header_text(name, voxels, origin, spacing, direction, metadata)
    # Little-endian whatever the machine (FORMAT.md); a copy only when needed.
    data = np.ascontiguousarray(voxels, dtype=voxels.dtype.newbyteorder("<"))
    temporary = name + ".itk-tag-tmp-" + secrets.token_hex(6)
    try:
        with open(temporary, "xb") as file:
            file.write(header)
            file.write(data.reshape(-1).view(np.uint8).data)
        os.replace(temporary, name)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
