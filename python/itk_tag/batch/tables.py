"""Writing a table of rows as CSV or JSON, atomically: measure's long table and its wide table."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import writers

TABLE_FORMATS = ("csv", "json")


def cell(value: Any) -> Any:
    """A value as a CSV cell: None empty, a list joined by ``;``."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value


def write_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], path: Path, overwrite: bool = False
) -> None:
    """Write ``rows`` (keys ``columns``) to ``path``, atomically: CSV (see :func:`cell`) or JSON (a list of
    objects, None as null) by its extension. Raises OutputExistsError when ``path`` exists and not
    ``overwrite``, UsageError-free: the caller checked the extension (TABLE_FORMATS).
    """
    output_format = path.suffix.lower().lstrip(".")
    with writers.atomic_output(path, output_format, overwrite) as temporary:
        with temporary.open("w", newline="", encoding="utf-8") as file:
            if output_format == "json":
                json.dump([{column: row.get(column) for column in columns} for row in rows], file, indent=1)
                file.write("\n")
                return
            writer = csv.DictWriter(file, list(columns), extrasaction="ignore")
            writer.writeheader()
            writer.writerows({key: cell(value) for key, value in row.items()} for row in rows)
