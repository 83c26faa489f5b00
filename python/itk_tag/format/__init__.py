"""The sliceOmatic ``.tag`` format in pure Python (numpy only): header, voxels, writer.

It imports nothing else of itk_tag, so every host can read and write ``.tag``
without the native plugin; test/python/test_conformance.py holds it to the C++
implementation byte for byte.
"""

from .errors import TagFileError
from .header import TagHeader, looks_like_tag, parse_header, read_header
from .reader import read_array, read_voxels_into
from .writer import write_tag

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
