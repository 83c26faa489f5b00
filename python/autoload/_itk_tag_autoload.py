"""itk-tag's startup hook: makes ``import SimpleITK`` load the itk-tag plugin, with no ``import itk_tag``.

``itk-tag-autoload.pth`` (installed by the wheel beside this module) imports
this module while the interpreter starts. Starting must stay cheap and must
never fail because of itk-tag, so this module only *arms*: it puts a finder
on ``sys.meta_path`` that waits for the import of ``SimpleITK`` and then
imports ``itk_tag``, whose import hook (``itk_tag._simpleitk``) sets
``ITK_AUTOLOAD_PATH`` while SimpleITK's extension loads. It imports nothing
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
importing_itk_tag = False
"""True while this hook imports itk_tag: its import hook then stays quiet (see _simpleitk.install)."""


class _ArmingFinder:
    """Finds nothing; on the first import of SimpleITK, installs itk_tag's import hook and leaves."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        """Always None (the next finders find SimpleITK); arms itk_tag's hook first."""
        global status, importing_itk_tag
        if fullname != "SimpleITK":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        importing_itk_tag = True
        try:
            import itk_tag  # noqa: F401 - installs the import hook (quietly: see importing_itk_tag)
        except Exception as error:  # SimpleITK must import whatever happens here
            status = f"failed: import itk_tag raised {type(error).__name__}: {error}"
        finally:
            importing_itk_tag = False
        return None


def _arm() -> None:
    global status
    value = os.environ.get(OFF_VARIABLE, "")
    if value not in ("", "0"):
        status = f"off: {OFF_VARIABLE}={value} is set"
        return
    if "SimpleITK" in sys.modules:
        status = "off: SimpleITK was imported before the hook ran"
        return
    sys.meta_path.insert(0, _ArmingFinder())
    status = "armed"


try:
    _arm()
except Exception as _error:  # the interpreter must start whatever happens here
    status = f"failed: {type(_error).__name__}: {_error}"
