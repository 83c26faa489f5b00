"""Kept for :mod:`itk_tag.slicer`, which imports UsageError from here; see :mod:`itk_tag.errors`."""

from .errors import UsageError

__all__ = ["UsageError"]
