"""Turn the bytes of a signal file or HTTP response into a ``Series``.

Formats (``fmt``; ``auto`` picks from the content):

- ``csv``: rows ``timestamp,value`` (optional third column ``duration_s``), an optional
  header row, ``#`` comments; the unit is declared by ``unit=`` or a ``# unit: W`` line.
- ``geyser``: our JSON, ``{"unit": "W", "points": [{"time": ..., "value": ...,
  "duration_s": ...}]}`` (``duration_s`` optional), documented in docs/signals.md.
- ``carbon-intensity``: the UK Carbon Intensity API, ``{"data": [{"from", "to",
  "intensity": {"forecast", "actual"}}]}`` (``actual`` when present, else ``forecast``),
  also its regional shape where each region holds its own ``data`` list, and its
  ``generationmix`` (``/generation``), read as the renewable share in %.
- ``carbon-aware``: the Green Software Foundation Carbon Aware SDK forecast, a list (or
  one object) with ``forecastData: [{"timestamp", "duration" (minutes), "value"}]``; also
  its emissions shape ``[{"time", "duration", "rating"}]``.
- ``watts-list``: a plain list ``[{"time": ..., "watts": ...}]``.

The two carbon services' parsers live in ``carbon``, the point reading all formats share in
``points``. Every parser raises ``SignalError`` with what was wrong and where; none crashes
on malformed input. Nothing here imports OpenStack.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from watcher_geyser.inputs import shape
from watcher_geyser.signal.carbon import parse_carbon_aware, parse_carbon_intensity
from watcher_geyser.signal.points import MAX_POINTS, build_series, entry, field, listed, number, pick_unit, point_list
from watcher_geyser.signal.series import Series, SignalError, Unit, parse_time

#: Inputs larger than this are refused before parsing (a signal is hours to weeks of points).
MAX_BYTES = 16 * 1024 * 1024
FORMATS = ("auto", "csv", "json", "geyser", "carbon-intensity", "carbon-aware", "watts-list")


def parse(
    data: bytes | bytearray | str,
    fmt: str = "auto",
    unit: Unit | str | None = None,
    origin: str = "",
    max_bytes: int = MAX_BYTES,
) -> Series:
    """Parse ``data`` in format ``fmt``; ``unit`` declares (or overrides) the unit."""
    if fmt not in FORMATS:
        raise SignalError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if len(data) > max_bytes:
        raise SignalError(f"input is {len(data)} bytes, above the {max_bytes}-byte limit; shorten the series")
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SignalError(f"input is not UTF-8 text (byte {exc.start})") from None
    if not data.strip():
        raise SignalError("input is empty")
    unit_scale = _unit(unit) if unit is not None else None
    if fmt == "auto":
        fmt = "csv" if data.lstrip()[:1] not in "[{" else "json"
    if fmt == "csv":
        return _with_origin(parse_csv(data, unit_scale), origin)
    doc = _load_json(data)
    if fmt == "json":
        fmt = detect_json(doc)
    parser = _JSON_PARSERS[fmt]
    return _with_origin(parser(doc, unit_scale), origin)


def _with_origin(series: Series, origin: str) -> Series:
    if not origin:
        return series
    return Series(series.times_s, series.durations_s, series.values, series.unit, origin, series.notes)


def _unit(unit: Unit | str) -> tuple[Unit, float]:
    return (unit, 1.0) if isinstance(unit, Unit) else Unit.parse(unit)


def _load_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SignalError(f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except RecursionError:
        raise SignalError("JSON nested too deeply") from None


def _reject_constant(name: str) -> float:
    raise SignalError(f"JSON holds {name}, which is not a number; write null or remove the point")


def detect_json(doc: Any) -> str:
    """The JSON format name of a parsed document, or a SignalError listing what is known."""
    if isinstance(doc, dict):
        if "points" in doc:
            return "geyser"
        if "data" in doc:
            return "carbon-intensity"
        if "forecastData" in doc:
            return "carbon-aware"
    if isinstance(doc, list):
        first = doc[0] if doc else None
        if isinstance(first, dict):
            if "forecastData" in first or "rating" in first:
                return "carbon-aware"
            if "watts" in first:
                return "watts-list"
        if not doc:
            raise SignalError("input is an empty JSON list: no data points")
    raise SignalError(
        "unrecognised JSON shape: expected {'unit','points'} (geyser), {'data': [...]} (Carbon Intensity API), "
        "[{'forecastData': [...]}] (Carbon Aware SDK) or [{'time','watts'}]"
    )


# --------------------------------------------------------------------------- CSV


_UNIT_LINE = re.compile(r"^#\s*unit\s*[:=]\s*(\S.*?)\s*$", re.IGNORECASE)


def parse_csv(text: str, unit_scale: tuple[Unit, float] | None) -> Series:
    """Rows ``timestamp,value[,duration_s]``; see the module docstring."""
    times: list[float] = []
    values: list[float] = []
    durations: list[float] = []
    declared = None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise SignalError(f"not valid CSV: {exc}") from None
    for lineno, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip():
            continue
        first = row[0].strip()
        if first.startswith("#"):
            match = _UNIT_LINE.match(",".join(row).strip())
            if match:
                declared = Unit.parse(match.group(1))
            continue
        if len(row) < 2:
            raise SignalError(f"line {lineno}: expected 'timestamp,value', got {len(row)} column(s)")
        if not times and not values and _is_header(row):
            if len(row) > 2 and row[2].strip().lower() not in ("duration_s", "duration"):
                raise SignalError(f"line {lineno}: third column must be duration_s, got {shape(row[2])}")
            continue
        try:
            times.append(parse_time(first))
            values.append(number(row[1], "value", text_ok=True))
            if len(row) > 2 and row[2].strip():
                durations.append(number(row[2], "duration_s", text_ok=True))
        except SignalError as exc:
            raise SignalError(f"line {lineno}: {exc}") from None
        if len(times) > MAX_POINTS:
            raise SignalError(f"more than {MAX_POINTS} rows; shorten the series")
    if durations and len(durations) != len(times):
        raise SignalError("duration_s is given on some rows but not all; give it on every row or none")
    unit, scale = pick_unit(unit_scale, declared, "CSV", "add a line '# unit: W' or pass unit=")
    return build_series(times, values, unit, scale, durations or None)


def _is_header(row: list[str]) -> bool:
    """A header names its columns: neither its time nor its value column parses."""
    try:
        float(row[1])
        return False
    except ValueError:
        pass
    try:
        parse_time(row[0].strip())
    except SignalError:
        return True
    return False


# -------------------------------------------------------------------------- JSON


def parse_geyser(doc: Any, unit_scale) -> Series:
    where = "geyser JSON"
    pts = point_list(doc, "points", where)
    declared = Unit.parse(str(doc["unit"])) if doc.get("unit") is not None else None
    unit, scale = pick_unit(unit_scale, declared, where, "add \"unit\": \"W\" (or fraction, %, gCO2/kWh)")
    times, values, durs = [], [], []
    for i, raw in enumerate(pts):
        p = entry(raw, i, where)
        try:
            times.append(parse_time(field(p, "time", i, where)))
            values.append(number(field(p, "value", i, where), "value"))
            if p.get("duration_s") is not None:
                durs.append(number(p["duration_s"], "duration_s"))
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
    if durs and len(durs) != len(times):
        raise SignalError(f"{where}: duration_s is given on some points but not all")
    return build_series(times, values, unit, scale, durs or None)


def parse_watts_list(doc: Any, unit_scale) -> Series:
    where = "watts list JSON"
    doc = listed(doc, where, "the document, a list of {'time', 'watts'},")
    times, values = [], []
    for i, raw in enumerate(doc):
        p = entry(raw, i, where)
        try:
            times.append(parse_time(field(p, "time", i, where)))
            values.append(number(field(p, "watts", i, where), "watts"))
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
    unit, scale = unit_scale or (Unit.WATTS, 1.0)
    if unit is not Unit.WATTS:
        raise SignalError(f"{where}: values are watts; a declared unit of {unit.symbol} contradicts that")
    return build_series(times, values, unit, scale)


_JSON_PARSERS = {
    "geyser": parse_geyser,
    "carbon-intensity": parse_carbon_intensity,
    "carbon-aware": parse_carbon_aware,
    "watts-list": parse_watts_list,
}
