"""Kept for :mod:`itk_tag.slicer`, which imports temporary_path from here (:mod:`itk_tag.batch.writers`)."""

from .batch.writers import temporary_path

__all__ = ["temporary_path"]
