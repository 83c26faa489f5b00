"""itk-tag: sliceOmatic ``.tag`` segmentation files in ITK Python, SimpleITK and numpy.

* ``itk.imread("mask.tag")`` and ``sitk.ReadImage("mask.tag")`` work once
  itk-tag is installed (no import needed): the startup hook the wheel installs
  (``itk-tag-autoload.pth``) imports itk_tag when SimpleITK or itk is
  imported, and each gets a native build where one serves its ITK, the
  Python-level path elsewhere (:mod:`itk_tag.hosts`); with
  ``ITK_TAG_NO_AUTOLOAD=1``, ``import itk_tag`` first;
* :func:`read_header` and :func:`read_array` read a tag with neither of them.
"""

from typing import TYPE_CHECKING

from .hosts import import_hook

# Before anything below can import SimpleITK or itk: their first import must see the hook.
import_hook.install()

# ruff: noqa: E402
from .format.lazy import lazy_attributes
from .hosts.import_hook import ItkTagWarning
from .hosts.native import TagFileError

if TYPE_CHECKING:
    from .batch.convert import convert, convert_file, read
    from .batch.describe import info
    from .batch.labels import LabelTable, load_labels
    from .batch.measure import Measurements, measure, measure_file
    from .batch.pairing import check
    from .batch.qc import QcReport, qc
    from .batch.reference import GeometryCheck, Tolerance
    from .batch.runner import Report
    from .batch.wide import WideTable, wide_table
    from .errors import GeometryMismatchError, ReferenceImageError, UsageError
    from .format import TagHeader, read_array, read_header
    from .hosts.plugins import plugin_path

# The rest is imported on first use: `import itk_tag` runs before every
# `import SimpleITK` and inside ITK Python's factory loading (itk.IOTagPython),
# and these modules pull in numpy, multiprocessing, concurrent.futures, csv,
# ... (~150 ms on top of SimpleITK's own import).
_LAZY = {
    "GeometryCheck": "batch.reference",
    "GeometryMismatchError": "errors",
    "LabelTable": "batch.labels",
    "Measurements": "batch.measure",
    "QcReport": "batch.qc",
    "ReferenceImageError": "errors",
    "Report": "batch.runner",
    "TagHeader": "format",
    "Tolerance": "batch.reference",
    "UsageError": "errors",
    "WideTable": "batch.wide",
    "check": "batch.pairing",
    "convert": "batch.convert",
    "convert_file": "batch.convert",
    "info": "batch.describe",
    "load_labels": "batch.labels",
    "measure": "batch.measure",
    "measure_file": "batch.measure",
    "plugin_path": "hosts.plugins",
    "qc": "batch.qc",
    "read": "batch.convert",
    "read_array": "format",
    "read_header": "format",
    "wide_table": "batch.wide",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)


__version__ = "0.1.0"

__all__ = [
    "GeometryCheck",
    "GeometryMismatchError",
    "ItkTagWarning",
    "LabelTable",
    "Measurements",
    "QcReport",
    "ReferenceImageError",
    "Report",
    "TagFileError",
    "TagHeader",
    "Tolerance",
    "UsageError",
    "WideTable",
    "check",
    "convert",
    "convert_file",
    "info",
    "load_labels",
    "measure",
    "measure_file",
    "plugin_path",
    "qc",
    "read",
    "read_array",
    "read_header",
    "wide_table",
]
