"""Reading the CSV files users give (``--pairs``, ``--subjects``), as Excel saves them too."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import UsageError

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
