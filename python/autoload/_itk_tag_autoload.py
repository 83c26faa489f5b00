"""itk-tag's startup hook: SimpleITK, ITK Python and Slicer's core read ``.tag``, with no ``import itk_tag``.

``itk-tag-autoload.pth`` (installed by the wheel beside this module) imports
this module while the interpreter starts. Starting must stay cheap and must
never fail because of itk-tag, so this module only *arms*: it puts a finder
on ``sys.meta_path`` that waits for the import of ``SimpleITK``, ``itk`` or
``slicer_core`` (the slicer-core wheel's package, which ``import slicer``
imports), then imports ``itk_tag`` and hands the import to its hook
(``itk_tag.hosts.import_hook``), which gives the host a native build where one
serves it (for SimpleITK and slicer_core: ``ITK_AUTOLOAD_PATH`` set while
they load) and, for SimpleITK and itk, the Python-level path elsewhere. It imports nothing
the interpreter has not imported already (``os``, ``sys``), and it is a
top-level module because importing ``itk_tag._anything`` would run
``itk_tag/__init__.py`` (ctypes, ...) at every interpreter start.

``ITK_TAG_NO_AUTOLOAD=1`` turns it off. Every failure is caught and kept in
:data:`status`, which ``itk-tag doctor`` reports.
"""

import os
import sys

OFF_VARIABLE = "ITK_TAG_NO_AUTOLOAD"

status = "not run"
"""What the hook did in this process: "armed", "off: <why>" or "failed: <why>"."""
HOSTS = ("SimpleITK", "itk", "slicer_core")


class _ArmingFinder:
    """On the first import of a host, installs itk_tag's import hook, leaves, and lets that hook find it."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        """The spec itk_tag's hook gives for a host (None for any other name, or when itk_tag fails)."""
        global status
        if fullname not in HOSTS:
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        try:
            from itk_tag.hosts.import_hook import HostFinder

            # The import system goes on past this finder, not back to the one itk_tag just put first.
            return HostFinder().find_spec(fullname, path, target)
        except Exception as error:  # the host must import whatever happens here
            status = f"failed: import itk_tag raised {type(error).__name__}: {error}"
        return None


def _arm() -> None:
    global status
    value = os.environ.get(OFF_VARIABLE, "")
    if value not in ("", "0"):
        status = f"off: {OFF_VARIABLE}={value} is set"
        return
    if any(host in sys.modules for host in HOSTS):
        status = "off: SimpleITK, itk or slicer_core was imported before the hook ran"
        return
    sys.meta_path.insert(0, _ArmingFinder())
    status = "armed"


try:
    _arm()
except Exception as _error:  # the interpreter must start whatever happens here
    status = f"failed: {type(_error).__name__}: {_error}"
