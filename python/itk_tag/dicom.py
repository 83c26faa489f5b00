"""Kept for :mod:`itk_tag.image_buffer`, which imports itk_reason from here; see :mod:`itk_tag.errors`."""

from .errors import itk_reason

__all__ = ["itk_reason"]
