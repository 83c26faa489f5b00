"""Tables: writing rows as CSV or JSON, atomically (measure's long and wide tables), and reading the
CSV files users give (``--pairs``, ``--subjects``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import writers

TABLE_FORMATS = ("csv", "json")

DELIMITERS = ",;\t"
"""What a user's CSV file may be separated by: commas, or semicolons (Excel's CSV where the decimal
mark is a comma) or tabs."""


def read_user_csv(path: Path, option: str) -> tuple[list[str], list[list[str]], str]:
    """Read a CSV file a user made: (its header names, its rows as lists of stripped strings, its
    delimiter). UTF-8 with or without a byte-order mark; the delimiter is the one of DELIMITERS the
    header row uses (the standard library's ``csv.Sniffer``), so a file Excel saved with ``;`` reads
    too. Raises UsageError naming ``option`` and the file when it cannot be read.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            header = file.readline()
            try:
                delimiter = csv.Sniffer().sniff(header, DELIMITERS).delimiter
            except csv.Error:  # one column: nothing to tell
                delimiter = ","
            file.seek(0)
            reader = csv.reader(file, delimiter=delimiter)
            lines = [[value.strip() for value in row] for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"{option} {path}: cannot read: {error}") from None
    if not lines:
        return [], [], delimiter
    return lines[0], lines[1:], delimiter


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
