"""ITK Python (the ``itk`` wheel): the native factory where a build serves its ITK, else nothing native.

ITK Python is built without dynamic factory loading, so ITK_AUTOLOAD_PATH
does nothing there. Its loader instead calls ``RegisterOneFactory()`` on the
factory classes that a module's ``itk/Configuration/<Module>Config.py``
declares; the shim module ``itk/IOTagPython.py`` (installed by the wheel)
points it at the classes below. Registration hands the factory made by the
build that serves ITK Python's ITK to ITK Python's own
``ObjectFactoryBase::RegisterFactoryInternal``, and only when
:func:`itk_tag.hosts.plugins.served_build` names one: a 5.x build registered
into ITK 6 crashes ``itk.imread`` of any file. Every other ITK Python gets
``imread`` / ``imwrite`` wrapped (:mod:`itk_tag.hosts.dispatch`).
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import sys
import threading
from pathlib import Path
from typing import Any

from . import dispatch, native
from .plugins import Verdict, served_build

# itk::ObjectFactoryBase::RegisterFactoryInternal(itk::ObjectFactoryBase*)
_REGISTER_FACTORY_SYMBOL = "_ZN3itk17ObjectFactoryBase23RegisterFactoryInternalEPS0_"
_lock = threading.Lock()
_registered = False


@functools.cache
def verdict() -> Verdict:
    """Which build serves the ITK of the imported ITK Python (its ``_ITKCommonPython`` library)."""
    itk = sys.modules.get("itk")
    folders = getattr(itk, "__path__", None) or []
    libraries = sorted(p for folder in folders for p in Path(folder).glob("_ITKCommonPython*") if p.is_file())
    if not libraries:
        return Verdict(None, "ITK Python's _ITKCommonPython library was not found")
    return served_build(libraries[0])


def register_factory() -> None:
    """Registers the TagImageIO factory with ITK Python once per process, where a build serves it."""
    global _registered
    with _lock:
        if _registered:
            return
        _registered = True
        found = verdict()
        if found.build is None or not found.build.endswith("-itk"):
            dispatch.wrap_itk(sys.modules["itk"])
            return
        common = importlib.import_module("itk._ITKCommonPython")
        register = ctypes.CDLL(common.__file__)[_REGISTER_FACTORY_SYMBOL]
        register.restype = None
        register.argtypes = [ctypes.c_void_p]
        abi = found.build.split("-")[0]
        register(native.load(abi).itk_tag_create_factory(None, 0))


class itkTagImageIOFactory:  # noqa: N801 - the name ITK Python's loader looks up
    """ITK Python's handle on itk::TagImageIOFactory."""

    @staticmethod
    def RegisterOneFactory() -> None:  # noqa: N802 - ITK's method name
        """Called by ITK Python's loader when it loads the ImageIO factories."""
        register_factory()


class itkTagImageIO:  # noqa: N801 - the name ITK Python's loader looks up
    """ITK Python's handle on itk::TagImageIO: ``itk.TagImageIO.New()`` gives an
    ``itk.ImageIOBase`` that is a TagImageIO, for ``imread(..., imageio=...)``.
    Raises RuntimeError where no native build serves this ITK Python.
    """

    @staticmethod
    def New(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - ITK's method name
        """A TagImageIO (an ``itk.ImageIOBase``); RuntimeError where no build serves ITK Python."""
        import itk

        register_factory()
        if verdict().build is None:
            reason = verdict().reason
            raise RuntimeError(f"itk.TagImageIO is not available: {reason}; itk.imread reads .tag without it")
        return itk.ImageIOFactory.CreateImageIO("new.tag", itk.CommonEnums.IOFileMode_WriteMode)
