"""Label tables from the user: a convention name (``alberta``), a JSON or a CSV file.

A ``.tag`` file names none of its labels. The conventions and the colour of an
unnamed label are in ``format/labels.py`` (the 3D Slicer module reads them
there too); this module reads the tables a user gives.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Union

from ..errors import LabelsError
from ..format.labels import ALBERTA, CONVENTIONS, Color, Label, LabelTable, default_color

__all__ = [
    "ALBERTA",
    "CONVENTIONS",
    "Color",
    "Label",
    "LabelTable",
    "LabelsSpec",
    "default_color",
    "load_labels",
    "parse_color",
    "parse_value",
]

LabelsSpec = Union["LabelTable", str, "os.PathLike[str]", None]
"""A LabelTable, a convention name (``alberta``), the path of a JSON or CSV file, or None."""


def parse_color(text: Any, where: str) -> Color:
    """Parse a colour: ``#RRGGBB``, or three numbers in 0..1."""
    if isinstance(text, str) and text.startswith("#") and len(text) == 7:
        try:
            return tuple(int(text[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            pass
    elif isinstance(text, (list, tuple)) and len(text) == 3:
        try:
            color = tuple(float(v) for v in text)
        except (TypeError, ValueError):
            color = ()
        if len(color) == 3 and all(0.0 <= v <= 1.0 for v in color):
            return color  # type: ignore[return-value]
    raise LabelsError(f"{where}: colour {text!r} is neither #RRGGBB nor three numbers in 0..1")


def parse_value(text: Any, where: str) -> int:
    """Parse a label value: an integer in 1..65535 (0 is "no label")."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise LabelsError(f"{where}: label value {text!r} is not an integer") from None
    if not 1 <= value <= 65535:
        raise LabelsError(f"{where}: label value {value} is not in 1..65535")
    return value


def _from_json(path: Path) -> LabelTable:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise LabelsError(f"{path}: not JSON: {error}") from None
    if not isinstance(data, dict):
        raise LabelsError(f'{path}: expected an object {{"1": "muscle", ...}}')
    labels = {}
    for key, entry in data.items():
        where = f"{path}: label {key}"
        value = parse_value(key, where)
        if isinstance(entry, str):
            labels[value] = Label(entry, default_color(value))
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            color = parse_color(entry["color"], where) if "color" in entry else default_color(value)
            labels[value] = Label(entry["name"], color)
        else:
            raise LabelsError(f'{where}: expected a name or {{"name": ..., "color": ...}}')
    return LabelTable(labels)


def _from_csv(path: Path) -> LabelTable:
    labels = {}
    with path.open(newline="", encoding="utf-8") as file:
        for number, row in enumerate(csv.reader(file), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if number == 1 and not cells[0].lstrip("-").isdigit():
                continue  # a header row such as "value,name,color"
            where = f"{path}:{number}"
            if len(cells) < 2 or not cells[1]:
                raise LabelsError(f"{where}: expected value,name[,#RRGGBB]")
            value = parse_value(cells[0], where)
            color = parse_color(cells[2], where) if len(cells) > 2 and cells[2] else default_color(value)
            labels[value] = Label(cells[1], color)
    if not labels:
        # A lone "1;muscle" (a semicolon-separated export) would otherwise pass as a header row.
        expected = "expected value,name[,#RRGGBB] after an optional header row"
        raise LabelsError(f"{path}: no label rows: {expected}")
    return LabelTable(labels)


def load_labels(spec: LabelsSpec) -> LabelTable:
    """Load the label table ``spec`` names: ``alberta``, a ``.json`` or ``.csv`` file, or none.

    JSON: ``{"1": "muscle", "7": {"name": "SAT", "color": "#00FFFF"}}``.
    CSV: rows ``value,name[,color]``, an optional header row, colours ``#RRGGBB``.
    """
    if spec is None:
        return LabelTable()
    if isinstance(spec, LabelTable):
        return spec
    if isinstance(spec, str) and spec.lower() in CONVENTIONS:
        return CONVENTIONS[spec.lower()]
    path = Path(spec)
    if not path.is_file():
        known = ", ".join(CONVENTIONS)
        raise LabelsError(f"{spec}: neither a label convention ({known}) nor a JSON or CSV file")
    if path.suffix.lower() == ".json":
        return _from_json(path)
    if path.suffix.lower() == ".csv":
        return _from_csv(path)
    raise LabelsError(f"{path}: a label file ends in .json or .csv")
