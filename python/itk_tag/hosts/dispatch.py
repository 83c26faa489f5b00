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


def is_wrapped(module: ModuleType, name: str) -> bool:
    """True when ``module.name`` is one of our wrappers."""
    return getattr(getattr(module, name, None), MARK, False)


def _wrap(module: ModuleType, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(module, name, None)
    if original is None or getattr(original, MARK, False):
        return
    wrapper = functools.wraps(original)(make(original))
    setattr(wrapper, MARK, True)
    setattr(module, name, wrapper)


def _write(path: str, *image: Any) -> None:
    """``format.write_tag``, with an OSError raised as the RuntimeError the host's own writer raises."""
    from ..format import write_tag

    try:
        write_tag(path, *image)
    except OSError as error:
        raise RuntimeError(f'cannot write "{path}": {error.strerror or error}') from error


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


# SimpleITK ------------------------------------------------------------------


def read_simpleitk(path: str) -> Any:
    """A ``.tag`` file as a 3D ``SimpleITK.Image`` (x, y, z; uint8 or uint16), read in pure Python.

    The voxels are read straight into the image's buffer (one copy in memory).
    Raises TagFileError (a RuntimeError, as SimpleITK's own reader errors).
    """
    from ..format import read_header
    from .image_buffer import image_of, read_voxels

    header = read_header(path)
    image = image_of(read_voxels(path, header))
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

    def read(original: Callable[..., Any]) -> Callable[..., Any]:
        def ReadImage(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - SimpleITK's name
            path = tag_path(_argument(args, kwargs, 0, "fileName", None))
            pixel = _argument(args, kwargs, 1, "outputPixelType", module.sitkUnknown)
            image_io = _argument(args, kwargs, 2, "imageIO", "")
            if path is None or image_io not in ("", "TagImageIO") or len(args) + len(kwargs) > 3:
                return original(*args, **kwargs)
            image = read_simpleitk(path)
            return image if pixel == module.sitkUnknown else module.Cast(image, pixel)

        return ReadImage

    def write(original: Callable[..., Any]) -> Callable[..., Any]:
        def WriteImage(image: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N802 - SimpleITK's name
            path = tag_path(_argument(args, kwargs, 0, "fileName", None))
            image_io = kwargs.get("imageIO", "")
            if path is None or image_io not in ("", "TagImageIO") or not isinstance(image, module.Image):
                return original(image, *args, **kwargs)
            # useCompression / compressionLevel / compressor: a .tag has no compression.
            write_simpleitk(image, path)
            return None

        return WriteImage

    _wrap(module, "ReadImage", read)
    _wrap(module, "WriteImage", write)


# ITK Python -----------------------------------------------------------------


def read_itk(path: str, pixel_type: Any = None) -> Any:
    """A ``.tag`` file as a 3D ``itk.Image`` (``itk.UC`` for BYTE, ``itk.US`` for SHORT), read in pure Python.

    ``pixel_type`` casts, as ``itk.imread``'s does. Raises TagFileError (a RuntimeError, as ITK's own).
    """
    import itk
    import numpy as np

    from ..format import read_array

    voxels, header = read_array(path)
    image = itk.image_from_array(voxels)
    image.SetOrigin(header.origin)
    image.SetSpacing(header.spacing)
    image.SetDirection(itk.matrix_from_array(np.asarray(header.direction).reshape(3, 3)))
    for key, value in header.keywords.items():
        image[key] = value
    if pixel_type is not None:
        image = itk.cast_image_filter(image, ttype=(type(image), itk.Image[pixel_type, 3]))
    return image


def write_itk(image: Any, path: str) -> None:
    """Writes a 2D or 3D scalar ``itk.Image`` of unsigned char / unsigned short to ``path``.

    Raises TagFileError for an image a ``.tag`` cannot hold.
    """
    import itk
    import numpy as np

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

    def read(original: Callable[..., Any]) -> Callable[..., Any]:
        def imread(*args: Any, **kwargs: Any) -> Any:
            path = tag_path(_argument(args, kwargs, 0, "filename", None))
            unsupported = set(kwargs) - {"filename", "pixel_type", "fallback_only", "imageio"}
            if path is None or len(args) > 3 or unsupported or _argument(args, kwargs, 3, "imageio", None):
                return original(*args, **kwargs)
            return read_itk(path, _argument(args, kwargs, 1, "pixel_type", None))

        return imread

    def write(original: Callable[..., Any]) -> Callable[..., Any]:
        def imwrite(image: Any, *args: Any, **kwargs: Any) -> None:
            path = tag_path(_argument(args, kwargs, 0, "filename", None))
            if path is None or _argument(args, kwargs, 2, "imageio", None) is not None:
                return original(image, *args, **kwargs)
            write_itk(image, path)
            return None

        return imwrite

    _wrap(module, "imread", read)
    _wrap(module, "imwrite", write)
