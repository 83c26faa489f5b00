"""The exception of the ``.tag`` format layer."""

from __future__ import annotations


class TagFileError(ValueError, RuntimeError):
    """A file is not a valid sliceOmatic ``.tag`` file (the message names the
    file and the problem). It is both a ValueError and a RuntimeError, the
    exception type ITK Python and SimpleITK raise for reader errors.
    """


def tag_error(path: str, problem: str) -> TagFileError:
    """The error C++ ``ThrowTagError`` raises: ``sliceOmatic .tag file "<path>": <problem>``."""
    return TagFileError(f'sliceOmatic .tag file "{path}": {problem}')
