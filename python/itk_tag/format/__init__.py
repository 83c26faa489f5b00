"""The sliceOmatic ``.tag`` format in pure Python (numpy only): header, voxels, writer.

It imports nothing else of itk_tag, so every host can read and write ``.tag``
without the native plugin; test/python/test_conformance.py holds it to the C++
implementation byte for byte.
"""

from typing import TYPE_CHECKING

from .errors import TagFileError
from .lazy import lazy_attributes

if TYPE_CHECKING:
    from .header import TagHeader, looks_like_tag, parse_header, read_header
    from .reader import read_array, read_voxels_into
    from .writer import write_tag

# Imported on first use: the package itk_tag, which the startup hook imports
# with every `import SimpleITK`, needs only TagFileError here, and the rest
# pulls in numpy (~100 ms).
_LAZY = {
    "TagHeader": "header",
    "looks_like_tag": "header",
    "parse_header": "header",
    "read_header": "header",
    "read_array": "reader",
    "read_voxels_into": "reader",
    "write_tag": "writer",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "TagFileError",
    "TagHeader",
    "looks_like_tag",
    "parse_header",
    "read_array",
    "read_header",
    "read_voxels_into",
    "write_tag",
]
