"""The overlay picture of one mask: its CT slice, windowed, with each label drawn over it, as a PNG.

What a person checks a mask by, so what it must get right:

* **Orientation from the geometry.** An axial slice is shown as a radiologist
  reads it -- the patient's right on the image's left, anterior up -- whatever
  order the array is in: the image axes (the columns of the grid's direction
  matrix, LPS) are mapped onto the screen's right (+L) and down (+P) by the
  nearest signed axis, so a mask drawn on a mirrored or rotated grid is
  turned back, never resampled (every pixel is one voxel: a label's colour is
  exactly where the mask is). A coronal slice gets right +L, down +I
  (inferior); a sagittal one right +P, down +I. An oblique slice is shown in
  the plane it was acquired in, turned to the nearest of these.
* **Square millimetres.** Pixels are repeated (nearest neighbour) so that a
  millimetre is as long across as down, and small slices are enlarged to at
  least :data:`MIN_SIDE` pixels.
* **The CT's own values.** Grey = the HU inside the window (W, L), 0 at
  L - W/2 and below, 255 at L + W/2 and above (:func:`window_grey`).
* **Labels.** Each label is a translucent fill (:data:`FILL_ALPHA` of its
  colour over the grey) with a crisp outline (its pixels that touch another
  value, in its full colour), colours from the label table
  (:mod:`itk_tag.batch.labels`). Without a CT, the labels are drawn on black.
* **Words.** A band under the slice carries the file's name, what is shown
  (slice k of n, the window, or "no CT") and a legend (label, area in cm²),
  so the slice itself carries nothing but the CT and the mask.

The bytes are the same on Linux and Windows (checked under wine): integer
arithmetic for the blend, float64 in one order for the window, Pillow's
built-in bitmap font (``ImageFont.load_default_imagefont``: no FreeType, no
system font), PNG text chunks without a date, the image data deflated by
Python's zlib (:func:`deflated`).
"""

from __future__ import annotations

import io
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .labels import LabelTable
from .reference import Grid

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_WINDOW = (400.0, 40.0)
"""(W, L) in HU: the soft-tissue window body-composition masks are drawn and checked in."""

MIN_SIDE = 256
"""Slices smaller than this (pixels, shorter side) are enlarged by a whole factor."""

MAX_SIDE = 4096
"""The longest a picture's side may be (pixels): a CT slice is 512, the largest usual 1024."""

FILL_ALPHA = 102
"""Opacity of a label's fill, out of 256 (0.4): the CT stays readable under it."""

COMPRESS_LEVEL = 1
"""zlib level of the PNG: on the real samples, level 6 took 3 times as long for files 2 to 9 % smaller."""

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
"""The last chunk of every PNG (PNG specification, 11.2.5): a file without it is cut short."""
_LINE = 12
"""Pixels per line of text in the band (the bitmap font is 11 pixels high)."""
_MARGIN = 4
_SWATCH = 9

# The screen's right and down, as LPS unit vectors, for a slice whose normal
# is nearest x (sagittal), y (coronal) or z (axial): radiological convention.
_SCREEN = {
    0: ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),  # sagittal: right = posterior, down = inferior
    1: ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),  # coronal: right = patient's left, down = inferior
    2: ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),  # axial: right = patient's left, down = posterior
}


@dataclass(frozen=True)
class Orientation:
    """How a slice array (rows = the grid's j axis, columns = its i axis) is turned for the screen.

    Applied in this order: transpose (rows become columns), then flip
    left-right, then flip up-down. ``plane`` is ``axial``, ``coronal`` or
    ``sagittal``; ``spacing`` is (across, down) in mm after turning.
    """

    transpose: bool
    flip_x: bool
    flip_y: bool
    plane: str
    spacing: tuple[float, float]

    def apply(self, array: np.ndarray) -> np.ndarray:
        """Turn a (rows, columns, ...) array for the screen (a view: no copy)."""
        if self.transpose:
            array = array.swapaxes(0, 1)
        if self.flip_x:
            array = array[:, ::-1]
        if self.flip_y:
            array = array[::-1]
        return array


def orientation(grid: Grid) -> Orientation:
    """Return how to show a slice of ``grid`` in the radiological convention (see the module's note).

    The slice's plane is the one its normal (the direction matrix's third
    column, or i x j) is nearest to; each screen axis takes the image axis
    nearest to it, with its sign.
    """
    axes = grid.axes
    column, row = axes[:, 0], axes[:, 1]
    normal = np.cross(column, row)
    plane = int(np.argmax(np.abs(normal)))
    right, down = (np.asarray(v) for v in _SCREEN[plane])
    straight = abs(column @ right) + abs(row @ down)
    crossed = abs(row @ right) + abs(column @ down)
    transpose = crossed > straight
    across, downwards = (row, column) if transpose else (column, row)
    spacing = (grid.spacing[1], grid.spacing[0]) if transpose else (grid.spacing[0], grid.spacing[1])
    return Orientation(
        transpose=bool(transpose),
        flip_x=bool(across @ right < 0),
        flip_y=bool(downwards @ down < 0),
        plane=("sagittal", "coronal", "axial")[plane],
        spacing=(float(spacing[0]), float(spacing[1])),
    )


def pixel_map(shape: tuple[int, int], spacing: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Source row and column of every picture row and column: square millimetres, at least MIN_SIDE.

    ``shape`` is (rows, columns) of the turned slice, ``spacing`` (across,
    down) in mm. Nearest neighbour: each picture pixel shows one voxel. The
    longer side is kept to MAX_SIDE (a 1 x 5000 strip would otherwise be
    enlarged into a gigabyte): a slice longer than that skips voxels.
    """
    rows, columns = shape
    across, down = spacing
    if not (across > 0 and down > 0) or math.isclose(across, down, rel_tol=1e-3):
        across = down = 1.0
    pixel = min(across, down)
    width, height = columns * across / pixel, rows * down / pixel
    scale = min(max(1, math.ceil(MIN_SIDE / min(width, height))), MAX_SIDE / max(width, height))
    out_width, out_height = max(1, round(width * scale)), max(1, round(height * scale))
    # (u + 0.5) * n // out: integer arithmetic, the same everywhere.
    source_rows = (np.arange(out_height) * 2 + 1) * rows // (2 * out_height)
    source_columns = (np.arange(out_width) * 2 + 1) * columns // (2 * out_width)
    return source_rows, source_columns


def window_grey(hu: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Grey levels (uint8) of HU through the window (W, L): (HU - (L - W/2)) / W x 255, clipped to 0..255.

    Rounded to the nearest integer, halves to even (numpy's ``rint``),
    computed in float64 in that order: the same bytes on every platform. A
    16-bit CT (most are) goes through a table of its 65,536 values, made by
    the same formula.
    """
    width, level = window

    def grey(values: np.ndarray) -> np.ndarray:
        scaled = (values.astype(np.float64) - (level - width / 2.0)) / width * 255.0
        return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)

    hu = np.asarray(hu)
    if hu.dtype in (np.int16, np.uint16) and hu.size > 65536:
        table = grey(np.arange(65536, dtype=np.uint16).view(hu.dtype))
        return table[hu.view(np.uint16)]
    return grey(hu)


def outline(labels: np.ndarray) -> np.ndarray:
    """True where a labelled pixel touches (4-neighbourhood, or the edge) a pixel of another value."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[0, :] = edge[-1, :] = True
    edge[:, 0] = edge[:, -1] = True
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return edge & (labels != 0)


def rgb_of(color: tuple[float, float, float]) -> tuple[int, int, int]:
    """A label table colour (0..1 each) as 8-bit red, green, blue."""
    return tuple(int(round(min(max(c, 0.0), 1.0) * 255)) for c in color)  # type: ignore[return-value]


def blend(grey: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """(n, 3) uint8: ``rgb`` over ``grey`` (n,) at FILL_ALPHA/256, rounded: (g (256 - a) + c a + 128) >> 8."""
    grey = grey.astype(np.uint32)[:, None]
    colour = np.asarray(rgb, dtype=np.uint32)[None, :]
    return ((grey * (256 - FILL_ALPHA) + colour * FILL_ALPHA + 128) >> 8).astype(np.uint8)


def paint(grey: np.ndarray, labels: np.ndarray, table: LabelTable) -> np.ndarray:
    """(rows, columns, 3) uint8: ``grey`` with each label of ``labels`` as a fill and an outline.

    One look-up per pixel in a table of every (label, grey level) colour:
    the cost does not grow with the number of labels.
    """
    present = np.flatnonzero(np.bincount(labels.ravel()))
    present = present[present != 0]
    # Each shade packed in one uint32 (red, green, blue, 255 in memory order): one gather a pixel.
    shades = np.zeros((len(present) + 1, 256, 4), dtype=np.uint8)
    levels = np.arange(256, dtype=np.uint8)
    shades[0, :, :3] = levels[:, None]  # label 0: the grey itself
    outlines = np.zeros((len(present) + 1, 4), dtype=np.uint8)
    for number, value in enumerate(present, start=1):
        rgb = rgb_of(table[int(value)].color)
        shades[number, :, :3] = blend(levels, rgb)
        outlines[number, :3] = rgb
    shades[..., 3] = outlines[:, 3] = 255
    index = np.zeros(int(labels.max(initial=0)) + 1, dtype=np.intp)
    index[present] = np.arange(1, len(present) + 1)
    which = index[labels]
    packed = shades.reshape(-1, 256 * 4).view(np.uint32).ravel().take(which * 256 + grey)
    edge = outline(labels)
    packed[edge] = outlines.view(np.uint32).ravel()[which[edge]]
    return packed.view(np.uint8).reshape(*labels.shape, 4)[..., :3]


def _latin1(text: str) -> str:
    """``text`` as the bitmap font can draw it (Latin-1; other characters become ``?``)."""
    return text.encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True)
class LegendEntry:
    """One label in the legend: its value, name, colour and area (cm²)."""

    value: int
    name: str
    rgb: tuple[int, int, int]
    area_cm2: float


def _band(width: int, title: str, shown: str, legend: list[LegendEntry]) -> Image.Image:
    """The text band under the slice: the file's name and what is shown, then the legend."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default_imagefont()
    items = [f"{entry.name} {entry.area_cm2:.2f} cm\u00b2" for entry in legend]
    widths = [_SWATCH + 3 + int(font.getlength(_latin1(item))) + 10 for item in items]
    lines: list[list[int]] = [[]]
    used = _MARGIN
    for index, item_width in enumerate(widths):
        if lines[-1] and used + item_width > width - _MARGIN:
            lines.append([])
            used = _MARGIN
        lines[-1].append(index)
        used += item_width
    count = 1 + (len(lines) if items else 0)
    band = Image.new("RGB", (width, count * _LINE + 2 * _MARGIN - 1), (0, 0, 0))
    draw = ImageDraw.Draw(band)
    white = (255, 255, 255)
    shown = _latin1(shown)
    room = width - 2 * _MARGIN - int(font.getlength(shown)) - 12
    title = _latin1(title)
    cut = 0
    while cut < len(title) and font.getlength(("..." if cut else "") + title[cut:]) > room:
        cut += 1  # a long path keeps its end: the file's name
    title = ("..." if cut else "") + title[cut:]
    draw.text((_MARGIN, _MARGIN), title, font=font, fill=white)
    draw.text((width - _MARGIN - int(font.getlength(shown)), _MARGIN), shown, font=font, fill=white)
    for number, line in enumerate(lines if items else []):
        x, y = _MARGIN, _MARGIN + (number + 1) * _LINE
        for index in line:
            entry = legend[index]
            draw.rectangle((x, y + 1, x + _SWATCH - 1, y + _SWATCH), fill=entry.rgb)
            draw.text((x + _SWATCH + 3, y), _latin1(items[index]), font=font, fill=white)
            x += widths[index]
    return band


@dataclass(frozen=True)
class Picture:
    """An overlay, ready to write: the RGB pixels and the facts its PNG text chunks carry."""

    pixels: np.ndarray
    """(rows, columns, 3) uint8: the slice, then the text band under it."""
    text: dict[str, str]


def picture(
    labels: np.ndarray,
    hu: np.ndarray | None,
    grid: Grid,
    table: LabelTable,
    legend: list[LegendEntry],
    title: str,
    shown: str,
    window: tuple[float, float] = DEFAULT_WINDOW,
) -> Picture:
    """Draw one slice: ``labels`` (rows, columns) over ``hu`` (the CT's HU there, same shape; None: black).

    ``grid`` is the slice's grid (its direction and spacing orient and scale
    the picture); ``title`` (the file's name) and ``shown`` (e.g. "slice 2 of
    3, W 400 L 40") go in the band with the ``legend``.
    """
    turn = orientation(grid)
    shape = turn.apply(labels).shape
    rows, columns = pixel_map(shape, turn.spacing)
    same = (len(rows), len(columns)) == shape  # a CT's 512 x 512: one pixel a voxel, no look-up

    def screen(array: np.ndarray) -> np.ndarray:
        array = turn.apply(array)
        return np.ascontiguousarray(array) if same else array[np.ix_(rows, columns)]

    labels = screen(labels)
    grey = np.zeros(labels.shape, dtype=np.uint8) if hu is None else window_grey(screen(hu), window)
    slice_pixels = paint(grey, labels, table)
    band = np.asarray(_band(slice_pixels.shape[1], title, shown, legend))
    text = {
        "Software": "itk-tag",
        # A file name that is not valid Unicode (undecodable bytes on Linux) gets ? in its place.
        "Title": title.encode("utf-8", "replace").decode("utf-8"),
        "itk-tag:shown": shown,
        "itk-tag:orientation": f"{turn.plane}; screen right = patient's left"
        if turn.plane != "sagittal"
        else "sagittal; screen right = posterior",
    }
    return Picture(np.concatenate([slice_pixels, band]), text)


def png_bytes(drawn: Picture) -> bytes:
    """The PNG file of a picture: Pillow's (filters, chunks; text chunks ``drawn.text``, no date), its
    image data deflated by Python's ``zlib`` (see :func:`deflated`).
    """
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in drawn.text.items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    Image.fromarray(drawn.pixels, "RGB").save(buffer, "PNG", pnginfo=info, compress_level=0)
    return deflated(buffer.getvalue(), COMPRESS_LEVEL)


def deflated(png: bytes, level: int) -> bytes:
    """``png`` with its image data (the IDAT chunks) deflated again at ``level``, as one IDAT chunk.

    Why: Pillow deflates with the zlib its wheel links, which is not the same
    everywhere (Debian's zlib 1.2.13 under the Linux wheel, zlib-ng in the
    Windows wheel): the same pixels gave other bytes under Windows (wine).
    Python's own ``zlib`` module is the reference zlib on both (1.2.13 on
    Debian 12, 1.3.1 in the Windows CPython 3.13), which deflate alike (checked:
    test_wine.py::test_qc). The chunks are the PNG specification's (5.3):
    length, type, data, CRC-32 of type and data.
    """
    chunks: list[bytes] = []
    data: list[bytes] = []
    at = len(_SIGNATURE)
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        end = at + 12 + length
        if kind == b"IDAT":
            if not data:
                chunks.append(b"")  # where the image data goes
            data.append(png[at + 8 : end - 4])
        else:
            chunks.append(png[at:end])
        at = end
    stream = zlib.compress(zlib.decompress(b"".join(data)), level)
    idat = struct.pack(">I", len(stream)) + b"IDAT" + stream + struct.pack(">I", zlib.crc32(b"IDAT" + stream))
    return _SIGNATURE + b"".join(chunk or idat for chunk in chunks)


def write_png(drawn: Picture, destination: Path, overwrite: bool) -> None:
    """Write the picture's PNG to ``destination`` atomically (temporary beside it, then rename)."""
    from . import writers

    data = png_bytes(drawn)
    with writers.atomic_output(destination, "png", overwrite) as temporary:
        with open(os.fspath(temporary), "wb") as file:
            file.write(data)


def read_text(path: Path) -> dict[str, str] | None:
    """The text chunks of a complete PNG this module wrote; None for anything else (cut short, another's).

    Reads the chunks before the pixels and the file's last 12 bytes, not the
    pixels: a resumed run of 2,000 files checks them all.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with open(path, "rb") as file:
            file.seek(-len(_IEND), os.SEEK_END)
            if file.read() != _IEND:
                return None
        with Image.open(path) as image:
            if image.format != "PNG":
                return None
            text = {str(key): str(value) for key, value in image.info.items() if isinstance(value, str)}
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return None
    return text if text.get("Software") == "itk-tag" else None
