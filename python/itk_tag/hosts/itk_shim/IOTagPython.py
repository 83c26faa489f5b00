"""ITK Python module of itk-tag (installed into the itk package by the itk-tag wheel).

ITK Python's loader imports this module for ``itk.TagImageIO`` and when it
registers the ImageIO factories (see IOTagConfig.py beside the other modules'
configurations). It may execute this file more than once; the classes come
from itk_tag, where registration happens once.
"""

from itk_tag.hosts.itk_python import itkTagImageIO, itkTagImageIOFactory

swig = {}

__all__ = ["itkTagImageIO", "itkTagImageIOFactory"]
