"""itk-tag: sliceOmatic ``.tag`` segmentation files in ITK Python, SimpleITK and numpy.

* ``itk.imread("mask.tag")`` works once itk-tag is installed (no import needed);
* ``import itk_tag`` before ``import SimpleITK`` makes ``sitk.ReadImage("mask.tag")`` work;
* :func:`read_header` and :func:`read_array` read a tag with neither of them.
"""

from . import _simpleitk

# Before anything below can import SimpleITK: its first import must see the hook.
_simpleitk.install()

# ruff: noqa: E402
from ._native import TagFileError
from ._simpleitk import ItkTagWarning
from .conversion import Report, convert, convert_file
from .description import info
from .dicom import ReferenceImageError
from .geometry import Tolerance
from .header import TagHeader, read_array, read_header
from .image import read
from .labels import LabelTable, load_labels
from .plan import UsageError
from .plugins import plugin_path
from .reference import GeometryCheck, GeometryMismatchError, check

__version__ = "0.1.0"

__all__ = [
    "GeometryCheck",
    "GeometryMismatchError",
    "ItkTagWarning",
    "LabelTable",
    "ReferenceImageError",
    "Report",
    "TagFileError",
    "TagHeader",
    "Tolerance",
    "UsageError",
    "check",
    "convert",
    "convert_file",
    "info",
    "load_labels",
    "plugin_path",
    "read",
    "read_array",
    "read_header",
]
