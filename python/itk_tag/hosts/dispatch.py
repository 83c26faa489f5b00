"""The Python-level path: ``.tag`` in SimpleITK and ITK Python without any native code of ours.

Where no native build serves a host -- an ITK Python or SimpleITK whose ITK
the builds were not tested against (ITK 6, SimpleITK 3), a platform or an
install without the builds (Windows, macOS, a pure wheel), or
``ITK_TAG_NATIVE=0`` -- the module-level functions ``SimpleITK.ReadImage`` /
``WriteImage`` and ``itk.imread`` / ``imwrite`` are wrapped: a path ending in
``.tag`` is read or written by the pure-Python format layer
(:mod:`itk_tag.format`), every other call goes to the original function with
its arguments untouched. The image equals the native reader's: pixel type
(uint8 for BYTE, uint16 for SHORT), voxels, origin, spacing, direction (LPS)
and every header keyword as a string metadata entry.

Not covered: ``ImageFileReader`` / ``ImageFileWriter`` objects, C++ programs
and other languages (README, "Which path serves which host").
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Optional

MARK = "__itk_tag_dispatch__"
"""Set on the wrappers, so that a module is wrapped once however often it is asked."""


def tag_path(file_name: object) -> Optional[str]:
    """``file_name`` as a string when it names a ``.tag`` file (any case), else None.

    A list of names (a series), a folder (ITK reads it as a DICOM series) or
    anything else goes to the host untouched.
    """
    if not isinstance(file_name, (str, os.PathLike)):
        return None
    path = os.fspath(file_name)
    if not isinstance(path, str) or not path.lower().endswith(".tag") or os.path.isdir(path):
        return None
    return path


def _write(path: str, *image: Any) -> None:
    """``format.write_tag``, with an OSError raised as the RuntimeError the host's own writer raises."""
    from ..format import write_tag

    try:
        write_tag(path, *image)
    except OSError as error:
        raise RuntimeError(f'cannot write "{path}": {error.strerror or error}') from error


@dataclass(frozen=True)
class Signature:
    """Where a host function takes the file name and the ImageIO, and which keywords it knows.

    A call the Python path is not sure to understand (more arguments, another
    keyword, an ImageIO of the host's own) goes to the original function.
    """

    file_name: str
    image_io: tuple[int, str]
    """Position (among the arguments after the image, for writers) and keyword."""
    keywords: frozenset[str]
    writes: bool = False


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _wrap(module: ModuleType, name: str, signature: Signature, handle: Callable[..., Any]) -> None:
    """Replaces ``module.name`` with a wrapper that calls ``handle(path, args, kwargs)`` (readers) or
    ``handle(image, path)`` (writers) for a ``.tag`` path, and the original function for anything else.
    """
    original = getattr(module, name, None)
    if original is None or getattr(original, MARK, False):
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rest = args[1:] if signature.writes else args
        path = tag_path(_argument(rest, kwargs, 0, signature.file_name))
        image_io = _argument(rest, kwargs, *signature.image_io)
        understood = len(rest) <= len(signature.keywords) and set(kwargs) <= signature.keywords
        if path is None or image_io not in (None, "", "TagImageIO") or not understood or not args:
            return original(*args, **kwargs)
        return handle(args[0], path) if signature.writes else handle(path, rest, kwargs)

    setattr(wrapper, MARK, True)
    setattr(module, name, wrapper)


# SimpleITK ------------------------------------------------------------------


def read_simpleitk(path: str) -> Any:
    """A ``.tag`` file as a 3D ``SimpleITK.Image`` (x, y, z; uint8 or uint16), read in pure Python.

    The header is read once, and the voxels straight into the image's buffer
    (one copy in memory). The metadata is every header keyword as a string, as
    the native reader gives them; not the two entries ITK's ``ImageFileReader``
    adds (``ITK_original_spacing``, ``ITK_original_direction``): SimpleITK's
    Python API sets only strings, and the text SimpleITK shows for the native
    entries (``[UNKNOWN_PRINT_CHARACTERISTICS]`` and a line end) would be written verbatim by
    ``WriteImage`` (README, "One image whichever path reads it"). Raises
    TagFileError (a RuntimeError, as SimpleITK's own reader errors).
    """
    from ..format import read_array
    from .image_buffer import new_voxels

    voxels, header = read_array(path, new_voxels)
    return image_with_header(voxels, header)


def image_with_header(voxels: Any, header: Any) -> Any:
    """A SimpleITK image of ``voxels`` ((z, y, x), no copy) with the geometry and keywords of ``header``."""
    from .image_buffer import image_of

    image = image_of(voxels)
    image.SetOrigin(header.origin)
    image.SetSpacing(header.spacing)
    image.SetDirection(header.direction)
    for key, value in header.keywords.items():
        image.SetMetaData(key, value)
    return image


def write_simpleitk(image: Any, path: str) -> None:
    """Writes a 2D or 3D scalar uint8/uint16 ``SimpleITK.Image`` to ``path`` as sliceOmatic does.

    Geometry comes from the image, string metadata from its dictionary (as the
    C++ writer). Raises TagFileError for an image a ``.tag`` cannot hold.
    """
    import SimpleITK

    _write(
        path,
        SimpleITK.GetArrayViewFromImage(image),
        image.GetOrigin(),
        image.GetSpacing(),
        image.GetDirection(),
        {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()},
    )


def wrap_simpleitk(module: ModuleType) -> None:
    """Routes ``module.ReadImage`` / ``WriteImage`` of ``.tag`` paths to the pure layer (once)."""

    def read(path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        image = read_simpleitk(path)
        pixel = _argument(args, kwargs, 1, "outputPixelType")
        return image if pixel in (None, module.sitkUnknown) else module.Cast(image, pixel)

    # useCompression, compressionLevel, compressor: a .tag has no compression.
    written = frozenset({"fileName", "useCompression", "compressionLevel", "imageIO", "compressor"})
    read_keywords = frozenset({"fileName", "outputPixelType", "imageIO"})
    _wrap(module, "ReadImage", Signature("fileName", (2, "imageIO"), read_keywords), read)
    _wrap(module, "WriteImage", Signature("fileName", (99, "imageIO"), written, writes=True), write_simpleitk)


# ITK Python -----------------------------------------------------------------


def read_itk(path: str, pixel_type: Any = None) -> Any:
    """A ``.tag`` file as a 3D ``itk.Image`` (``itk.UC`` for BYTE, ``itk.US`` for SHORT), read in pure Python.

    ``pixel_type`` casts, as ``itk.imread``'s does. The metadata is the native
    reader's: every header keyword as a string, and the two entries ITK's
    ``ImageFileReader`` adds for every file, ``ITK_original_spacing`` (a
    ``std::vector<double>``) and ``ITK_original_direction`` (an ``itk::Matrix``),
    of the same types and values. Raises TagFileError (a RuntimeError, as ITK's own).
    """
    import itk
    import numpy as np

    from ..format import read_array

    voxels, header = read_array(path)
    image = itk.image_from_array(voxels)
    direction = itk.matrix_from_array(np.asarray(header.direction).reshape(3, 3))
    image.SetOrigin(header.origin)
    image.SetSpacing(header.spacing)
    image.SetDirection(direction)
    for key, value in header.keywords.items():
        image[key] = value
    # ITK's ImageFileReader stores the file's spacing and direction under these keys (before
    # it flips a negative spacing; a tag has none). ITK Python can make those types, SimpleITK
    # cannot (read_simpleitk).
    dictionary = image.GetMetaDataDictionary()
    spacing_entry = itk.MetaDataObject[itk.vectorD].New()
    spacing_entry.SetMetaDataObjectValue(list(header.spacing))
    dictionary.Set("ITK_original_spacing", spacing_entry)
    direction_entry = itk.MetaDataObject[itk.Matrix[itk.D, 3, 3]].New()
    direction_entry.SetMetaDataObjectValue(direction)
    dictionary.Set("ITK_original_direction", direction_entry)
    if pixel_type is not None:
        cast = itk.cast_image_filter(image, ttype=(type(image), itk.Image[pixel_type, 3]))
        cast.SetMetaDataDictionary(dictionary)  # as the native reader's output of that type has it
        image = cast
    return image


def write_itk(image: Any, path: str) -> None:
    """Writes a 2D or 3D scalar ``itk.Image`` (or a filter's output) of unsigned char / unsigned short
    to ``path``.

    Raises TagFileError for an image a ``.tag`` cannot hold.
    """
    import itk
    import numpy as np

    image = itk.output(image)  # imwrite takes a filter too, and writes its output
    dictionary = image.GetMetaDataDictionary()
    metadata = {}
    for key in dictionary.GetKeys():
        value = dictionary[key]
        if isinstance(value, str):  # the C++ writer, too, takes only string entries
            metadata[key] = value
    _write(
        path,
        itk.array_view_from_image(image),
        tuple(image.GetOrigin()),
        tuple(image.GetSpacing()),
        tuple(np.asarray(itk.array_from_matrix(image.GetDirection())).ravel()),
        metadata,
    )


def wrap_itk(module: ModuleType) -> None:
    """Routes ``module.imread`` / ``imwrite`` of ``.tag`` paths to the pure layer (once)."""

    def read(path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return read_itk(path, _argument(args, kwargs, 1, "pixel_type"))

    read_keywords = frozenset({"filename", "pixel_type", "fallback_only", "imageio"})
    written = frozenset({"filename", "compression", "imageio"})  # a .tag has no compression
    _wrap(module, "imread", Signature("filename", (3, "imageio"), read_keywords), read)
    _wrap(module, "imwrite", Signature("filename", (2, "imageio"), written, writes=True), write_itk)
