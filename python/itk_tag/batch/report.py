"""The cohort report of a qc run: ``index.html``, one page that opens from disk in any browser.

The page is the template ``templates/qc_report.html`` filled by Jinja2, whose
autoescaping keeps any file name (``<``, ``&``, quotes) text, never markup;
the page needs nothing but itself and the pictures beside it (relative
links, ``loading="lazy"``): no network, no server, no script library. Its
numbers are measure's rows as the table has them: each cell carries the
table's text in ``data-v`` (what sorting uses, and what a test compares with
``measure``'s CSV) and shows it rounded (areas 0.01 cm², HU 0.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import writers
from .flags import FLAG_NAMES, MAD_TO_SD, MIN_COHORT, FileQc, Flag, area_spread
from .labels import LabelTable
from .overlay import rgb_of

TEMPLATE = Path(__file__).with_name("templates") / "qc_report.html"
THUMBNAIL_WIDTH = 128
"""Pixels: the width of a picture in the table (the link opens it at full size)."""

_BINS = 20
_CHART = (240, 64)


def cell_text(value: Any) -> str:
    """A value as measure's CSV writes it (None empty, floats as Python prints them, lists joined by ;)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _shown(text: str, decimals: int) -> str:
    return f"{float(text):.{decimals}f}" if text else ""


def label_columns(files: Sequence[FileQc], table: LabelTable) -> list[dict[str, Any]]:
    """The labels the table has a column for: every label of any row, with its name and colour."""
    values = sorted(
        {int(row["label"]) for entry in files for row in entry.rows if row["label"] not in (None, "")}
    )
    columns = []
    for value in values:
        red, green, blue = rgb_of(table[value].color)
        names = {row["name"] for entry in files for row in entry.rows if str(row["label"]) == str(value)}
        name = table[value].name if value in table.labels or len(names) != 1 else next(iter(names))
        columns.append({"value": value, "name": name, "color": f"#{red:02x}{green:02x}{blue:02x}"})
    return columns


def histogram(areas: Sequence[float], spread: tuple[float, float] | None) -> str:
    """An inline SVG of ``areas`` (cm²): a histogram, the median and the outlier limits if any."""
    width, height = _CHART
    low, high = min(areas), max(areas)
    if spread is not None:
        median, limit = spread
        low, high = min(low, max(median - limit, 0.0)), max(high, median + limit)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    counts = [0] * _BINS
    for area in areas:
        counts[min(int((area - low) / (high - low) * _BINS), _BINS - 1)] += 1
    top = max(counts)
    plot = height - 14
    step = width / _BINS
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for number, count in enumerate(counts):
        if count:
            bar = plot * count / top
            parts.append(
                f'<rect x="{number * step + 1:.1f}" y="{plot - bar:.1f}" width="{step - 2:.1f}" '
                f'height="{bar:.1f}" fill="#6b8fb8"/>'
            )

    def at(value: float) -> float:
        return (value - low) / (high - low) * width

    if spread is not None:
        median, limit = spread
        parts.append(f'<line x1="{at(median):.1f}" x2="{at(median):.1f}" y1="0" y2="{plot}" stroke="#222"/>')
        for fence in (median - limit, median + limit):
            if low <= fence <= high:
                parts.append(
                    f'<line x1="{at(fence):.1f}" x2="{at(fence):.1f}" y1="0" y2="{plot}" '
                    'stroke="#c0392b" stroke-dasharray="3,2"/>'
                )
    parts.append(f'<text x="0" y="{height - 2}" font-size="10">{low:.1f}</text>')
    parts.append(f'<text x="{width}" y="{height - 2}" font-size="10" text-anchor="end">{high:.1f} cm²</text>')
    parts.append("</svg>")
    return "".join(parts)


def _charts(files: Sequence[FileQc], columns: list[dict[str, Any]], outlier_k: float) -> list[dict[str, Any]]:
    from markupsafe import Markup

    charts = []
    for column in columns:
        areas = [
            float(row["area_cm2"])
            for entry in files
            for row in entry.rows
            if str(row["label"]) == str(column["value"]) and float(row["voxels"] or 0) > 0
        ]
        if not areas:
            continue
        spread = area_spread(areas, outlier_k)
        median = sorted(areas)[len(areas) // 2] if spread is None else spread[0]
        charts.append(
            {
                **column,
                "count": len(areas),
                "median": f"{median:.2f}" if spread is not None else "",
                "limits": f"{max(spread[0] - spread[1], 0.0):.2f} to {spread[0] + spread[1]:.2f}"
                if spread
                else "",
                "note": "" if spread else f"no outlier rule: fewer than {MIN_COHORT} files or no spread",
                # Built here from numbers only: no text from the files goes into it.
                "svg": Markup(histogram(areas, spread)),  # noqa: S704
            }
        )
    return charts


def _row(entry: FileQc, index: int, columns: list[dict[str, Any]], flags: list[Any]) -> dict[str, Any]:
    first = entry.rows[0] if entry.rows else {}
    status = first.get("status", "failed")
    by_label = {str(row["label"]): row for row in entry.rows if row["label"] not in (None, "")}
    cells = []
    for column in columns:
        row = by_label.get(str(column["value"]), {})
        area, hu = cell_text(row.get("area_cm2")), cell_text(row.get("hu_mean"))
        cells.append({"area": area, "area_shown": _shown(area, 2), "hu": hu, "hu_shown": _shown(hu, 1)})
    width, height = entry.size
    return {
        "index": index,
        "file": entry.file,
        "title": entry.title,
        "picture": quote(entry.picture) if entry.picture else "",
        "thumb_height": round(THUMBNAIL_WIDTH * height / width) if width else 0,
        "status": status,
        # The CT's PatientID where measure's rows carry it (its reference columns); else nothing.
        "patient": first.get("patient_id") or "",
        "reason": first.get("reason", "") or "",
        "cells": cells,
        "geometry": entry.geometry,
        "shown": entry.shown,
        "flags": flags,
    }


@dataclass(frozen=True)
class Run:
    """What the page says of the run besides its files: the options and what an interrupt left."""

    table: LabelTable
    reference: str
    """``--reference`` as given (``auto``, a path, ``none``)."""
    window: tuple[float, float]
    outlier_k: float
    not_done: int = 0


def render(files: Sequence[FileQc], flags: Sequence[Flag], run: Run) -> str:
    """The page (Jinja2, autoescaped), as text: ``files`` in their order, with their ``flags``."""
    import jinja2

    columns = label_columns(files, run.table)
    flags_of: dict[str, list[Flag]] = {}
    for flag in flags:
        flags_of.setdefault(flag.file, []).append(flag)
    rows = [_row(entry, index, columns, flags_of.get(entry.file, [])) for index, entry in enumerate(files)]
    failed = sum(1 for row in rows if row["status"] == "failed")
    counts = {name: sum(1 for flag in flags if flag.flag == name) for name in FLAG_NAMES}
    environment = jinja2.Environment(
        autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    )
    template = environment.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(
        summary={
            "files": len(rows) + run.not_done,
            "measured": len(rows) - failed,
            "failed": failed,
            "flagged": len(flags_of),
            "not_done": run.not_done,
        },
        flag_counts=counts,
        columns=columns,
        charts=_charts(files, columns, run.outlier_k),
        rows=rows,
        thumbnail_width=THUMBNAIL_WIDTH,
        k=f"{run.outlier_k:g}",
        mad_to_sd=MAD_TO_SD,
        min_cohort=MIN_COHORT,
        options={
            "reference": run.reference,
            "labels": ", ".join(f"{v} {label.name}" for v, label in sorted(run.table.labels.items()))
            or "none given",
            "window": f"W {run.window[0]:g} L {run.window[1]:g}",
        },
    )


def write_report(path: Path, files: Sequence[FileQc], flags: Sequence[Flag], run: Run) -> None:
    """Write the page to ``path`` atomically (UTF-8; see :func:`render`)."""
    text = render(files, flags, run)
    with writers.atomic_output(path, "html", overwrite=True) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
