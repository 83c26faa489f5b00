"""Keeping ITK's raw warnings off the terminal of ``itk-tag``'s commands.

ITK writes its warnings (``WARNING: In .../itkGDCMSeriesFileNames.cxx, line 101
... No Series were found``) through its output window straight to the C++
standard error stream: they never pass through Python, so they cannot be caught
and reworded there, only turned off. Every case where they appear is one
itk-tag reports itself, in its own words (no series in a folder, a file ITK
cannot read); the rest are noise to a user of the command line. (GDCM's own
warnings are compiled out of release builds, SimpleITK's wheels included.)

They are turned off for the commands only (:func:`silence`), through
SimpleITK (``ProcessObject.SetGlobalWarningDisplay(False)``, ITK's
``Object::GlobalWarningDisplayOff``): a program calling :mod:`itk_tag` keeps its
process's setting. Worker processes learn it from the environment variable
QUIET_VARIABLE (:func:`follow`), set for them by :func:`silence`.
"""

from __future__ import annotations

import os

QUIET_VARIABLE = "ITK_TAG_QUIET_ITK"


def _turn_off() -> None:
    import SimpleITK

    SimpleITK.ProcessObject.SetGlobalWarningDisplay(False)


def silence() -> None:
    """Turn ITK's warnings off in this process and in the worker processes it starts."""
    os.environ[QUIET_VARIABLE] = "1"
    _turn_off()


def follow() -> None:
    """In a worker process: turn ITK's warnings off when the process that started it did."""
    if os.environ.get(QUIET_VARIABLE) == "1":
        _turn_off()
