"""Module attributes imported on first use (PEP 562), for a package ``__init__`` that must import little."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def lazy_attributes(
    package: str, table: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose ``table`` maps a name to its submodule.

    A name is imported from ``package.<submodule>`` on first use and kept in
    the package; an unknown name raises AttributeError.
    """
    module = sys.modules[package]

    def get(name: str) -> Any:
        where = table.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{where}", package), name)
        setattr(module, name, value)
        return value

    def names() -> list[str]:
        return sorted([*vars(module), *table])

    return get, names
