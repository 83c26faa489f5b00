"""Registration of the TagImageIO factory with ITK Python (the ``itk`` wheel).

ITK Python is built without dynamic factory loading, so ITK_AUTOLOAD_PATH
does nothing there. Its loader instead calls ``RegisterOneFactory()`` on the
factory classes that a module's ``itk/Configuration/<Module>Config.py``
declares; the shim module ``itk/IOTagPython.py`` (installed by this wheel)
points it at the classes below. Registration hands the factory made by our
new-ABI plugin to ITK Python's own ``ObjectFactoryBase::RegisterFactoryInternal``.
"""

from __future__ import annotations

import ctypes
import importlib
import threading
from typing import Any

from . import _native

# itk::ObjectFactoryBase::RegisterFactoryInternal(itk::ObjectFactoryBase*)
_REGISTER_FACTORY_SYMBOL = "_ZN3itk17ObjectFactoryBase23RegisterFactoryInternalEPS0_"
_lock = threading.Lock()
_registered = False


def register_factory() -> None:
    """Registers the TagImageIO factory with ITK Python, once per process."""
    global _registered
    with _lock:
        if _registered:
            return
        common = importlib.import_module("itk._ITKCommonPython")
        host = ctypes.CDLL(common.__file__)
        register = host[_REGISTER_FACTORY_SYMBOL]
        register.restype = None
        register.argtypes = [ctypes.c_void_p]
        register(_native.load("new").itk_tag_create_factory(None, 0))
        _registered = True


class itkTagImageIOFactory:  # noqa: N801 - the name ITK Python's loader looks up
    """ITK Python's handle on itk::TagImageIOFactory."""

    @staticmethod
    def RegisterOneFactory() -> None:  # noqa: N802 - ITK's method name
        register_factory()


class itkTagImageIO:  # noqa: N801 - the name ITK Python's loader looks up
    """ITK Python's handle on itk::TagImageIO: ``itk.TagImageIO.New()`` gives an
    ``itk.ImageIOBase`` that is a TagImageIO, for ``imread(..., imageio=...)``.
    """

    @staticmethod
    def New(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - ITK's method name
        import itk

        register_factory()
        return itk.ImageIOFactory.CreateImageIO("new.tag", itk.CommonEnums.IOFileMode_WriteMode)
