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

Every parser raises ``SignalError`` with what was wrong and where; none crashes on
malformed input. Nothing here imports OpenStack.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import Any

from watcher_geyser.inputs import shape
from watcher_geyser.signal.series import Series, SignalError, Unit, parse_time

#: Inputs larger than this are refused before parsing (a signal is hours to weeks of points).
MAX_BYTES = 16 * 1024 * 1024
#: More points than this is refused: a year at one-minute steps is about 525,600.
MAX_POINTS = 1_000_000

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
            values.append(_number(row[1], "value", text_ok=True))
            if len(row) > 2 and row[2].strip():
                durations.append(_number(row[2], "duration_s", text_ok=True))
        except SignalError as exc:
            raise SignalError(f"line {lineno}: {exc}") from None
        if len(times) > MAX_POINTS:
            raise SignalError(f"more than {MAX_POINTS} rows; shorten the series")
    if durations and len(durations) != len(times):
        raise SignalError("duration_s is given on some rows but not all; give it on every row or none")
    unit, scale = _pick_unit(unit_scale, declared, "CSV", "add a line '# unit: W' or pass unit=")
    return _series(times, values, unit, scale, durations or None)


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


def _number(raw: Any, what: str, text_ok: bool = False) -> float:
    """A finite float; JSON must hold real numbers, CSV cells (``text_ok``) are parsed."""
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not text_ok):
        raise SignalError(f"{what} must be a number, got {shape(raw)}")
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            raise SignalError(f"{what} must be a number, got {shape(raw)}") from None
    if not isinstance(raw, int | float):
        raise SignalError(f"{what} must be a number, got {type(raw).__name__}")
    value = float(raw)
    if not math.isfinite(value):
        raise SignalError(f"{what} is {shape(raw)}, not a finite number")
    return value


def _pick_unit(given, declared, where: str, hint: str) -> tuple[Unit, float]:
    if given is not None:
        return given
    if declared is not None:
        return declared
    raise SignalError(f"{where} does not declare its unit; {hint}")


def _series(times, values, unit: Unit, scale: float, durations=None, notes=()) -> Series:
    if len(times) > MAX_POINTS:
        raise SignalError(f"{len(times)} points, above the {MAX_POINTS}-point limit; shorten the series")
    if scale != 1.0:
        values = [v * scale for v in values]
    return Series.build(times, values, unit, durations_s=durations, notes=tuple(notes))


# -------------------------------------------------------------------------- JSON


def _points(doc: Any, key: str, where: str) -> list:
    if not isinstance(doc, dict):
        raise SignalError(f"{where}: expected a JSON object with {key!r}, got {type(doc).__name__}")
    pts = doc.get(key)
    if not isinstance(pts, list):
        raise SignalError(f"{where}: {key!r} must be a list, got {type(pts).__name__}")
    if not pts:
        raise SignalError(f"{where}: {key!r} is empty: no data points")
    if len(pts) > MAX_POINTS:
        raise SignalError(f"{where}: {len(pts)} points, above the {MAX_POINTS}-point limit")
    return pts


def _entry(point: Any, i: int, where: str) -> dict:
    if not isinstance(point, dict):
        raise SignalError(f"{where}: point {i} must be an object, got {type(point).__name__}")
    return point


def _field(point: dict, key: str, i: int, where: str) -> Any:
    if key not in point:
        raise SignalError(f"{where}: point {i} has no {key!r}")
    return point[key]


def parse_geyser(doc: Any, unit_scale) -> Series:
    where = "geyser JSON"
    pts = _points(doc, "points", where)
    declared = Unit.parse(str(doc["unit"])) if doc.get("unit") is not None else None
    unit, scale = _pick_unit(unit_scale, declared, where, "add \"unit\": \"W\" (or fraction, %, gCO2/kWh)")
    times, values, durs = [], [], []
    for i, raw in enumerate(pts):
        p = _entry(raw, i, where)
        try:
            times.append(parse_time(_field(p, "time", i, where)))
            values.append(_number(_field(p, "value", i, where), "value"))
            if p.get("duration_s") is not None:
                durs.append(_number(p["duration_s"], "duration_s"))
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
    if durs and len(durs) != len(times):
        raise SignalError(f"{where}: duration_s is given on some points but not all")
    return _series(times, values, unit, scale, durs or None)


#: Fuels of the Carbon Intensity API's generation mix counted as renewable.
RENEWABLE_FUELS = frozenset({"wind", "solar", "hydro", "biomass"})


def parse_carbon_intensity(doc: Any, unit_scale) -> Series:
    """Intensity (gCO2/kWh) per half hour, or, for ``/generation`` responses (or when the
    declared unit is %), the renewable share: the ``perc`` of wind, solar, hydro and biomass."""
    where = "Carbon Intensity API JSON"
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict):
        inner = doc["data"]  # one region {"data": {"regionid", "data": [...]}} or one period
        doc = inner if "data" in inner else {"data": [inner]}
    pts = _points(doc, "data", where)
    if isinstance(pts[0], dict) and isinstance(pts[0].get("data"), list):
        if len(pts) != 1:
            raise SignalError(f"{where}: {len(pts)} regions in one response; ask the API for one region")
        pts = _points(pts[0], "data", where)
    first = pts[0] if isinstance(pts[0], dict) else {}
    want_mix = (unit_scale is not None and unit_scale[0] is Unit.RENEWABLE_PCT) or "intensity" not in first
    unit, scale = unit_scale or ((Unit.RENEWABLE_PCT if want_mix else Unit.CARBON_G_PER_KWH), 1.0)
    expected = Unit.RENEWABLE_PCT if want_mix else Unit.CARBON_G_PER_KWH
    if unit is not expected:
        raise SignalError(f"{where}: values are {expected.symbol}; a declared unit of {unit.symbol} contradicts that")
    times, values, durs, used_forecast = [], [], [], 0
    for i, raw in enumerate(pts):
        p = _entry(raw, i, where)
        try:
            start = parse_time(_field(p, "from", i, where))
            end = parse_time(_field(p, "to", i, where))
            if want_mix:
                value, forecast = _renewable_pct(_field(p, "generationmix", i, where)), False
            else:
                value, forecast = _intensity(_field(p, "intensity", i, where))
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
        times.append(start)
        durs.append(end - start)
        values.append(value)
        used_forecast += forecast
    notes = [f"{used_forecast} of {len(pts)} points use the forecast (no actual yet)"] if used_forecast else []
    return _series(times, values, unit, scale, durs, notes)


def _intensity(intensity: Any) -> tuple[float, bool]:
    """``(gCO2/kWh, True when it is the forecast)``: the actual when known, else the forecast."""
    if not isinstance(intensity, dict):
        raise SignalError(f"'intensity' must be an object, got {type(intensity).__name__}")
    if intensity.get("actual") is not None:
        return _number(intensity["actual"], "intensity.actual"), False
    return _number(intensity.get("forecast"), "intensity.forecast (no actual yet)"), True


def _renewable_pct(mix: Any) -> float:
    if not isinstance(mix, list) or not mix:
        raise SignalError("'generationmix' must be a non-empty list of {fuel, perc}")
    total = 0.0
    for j, item in enumerate(mix):
        if not isinstance(item, dict) or not isinstance(item.get("fuel"), str):
            raise SignalError(f"generationmix[{j}] must be an object with 'fuel' and 'perc'")
        perc = _number(item.get("perc"), f"generationmix[{j}].perc")
        if item["fuel"].lower() in RENEWABLE_FUELS:
            total += perc
    return min(total, 100.0)


def parse_carbon_aware(doc: Any, unit_scale) -> Series:
    where = "Carbon Aware SDK JSON"
    if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "rating" in doc[0]:
        return _carbon_aware_emissions(doc, unit_scale)
    if isinstance(doc, list):
        if len(doc) != 1:
            raise SignalError(f"{where}: {len(doc)} forecasts in one response; ask for one location")
        doc = doc[0]
    pts = _points(doc, "forecastData", where)
    times, values, durs = [], [], []
    for i, raw in enumerate(pts):
        p = _entry(raw, i, where)
        try:
            times.append(parse_time(_field(p, "timestamp", i, where)))
            values.append(_number(_field(p, "value", i, where), "value"))
            durs.append(_number(_field(p, "duration", i, where), "duration (minutes)") * 60.0)
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
    return _series(times, values, *_carbon_unit(unit_scale, where), durs)


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")


def _timespan_s(raw: Any) -> float:
    """Seconds of a .NET timespan ``[d.]hh:mm:ss`` (the SDK's emissions ``duration``)."""
    if isinstance(raw, str):
        m = _TIMESPAN.match(raw.strip())
        if m:
            days, h, mnt, s = m.groups()
            return int(days or 0) * 86400 + int(h) * 3600 + int(mnt) * 60 + float(s)
    raise SignalError(f"duration must be a timespan like '00:05:00', got {shape(raw)}")


def _carbon_aware_emissions(doc: list, unit_scale) -> Series:
    where = "Carbon Aware SDK emissions JSON"
    if len(doc) > MAX_POINTS:
        raise SignalError(f"{where}: {len(doc)} points, above the {MAX_POINTS}-point limit")
    rows = []
    for i, raw in enumerate(doc):
        p = _entry(raw, i, where)
        try:
            rows.append(
                (
                    parse_time(_field(p, "time", i, where)),
                    _number(_field(p, "rating", i, where), "rating"),
                    _timespan_s(_field(p, "duration", i, where)),
                )
            )
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
    unit, scale = _carbon_unit(unit_scale, where)
    return _series([r[0] for r in rows], [r[1] for r in rows], unit, scale, [r[2] for r in rows])


def _carbon_unit(unit_scale, where: str) -> tuple[Unit, float]:
    unit, scale = unit_scale or (Unit.CARBON_G_PER_KWH, 1.0)
    if unit is not Unit.CARBON_G_PER_KWH:
        raise SignalError(f"{where}: values are gCO2/kWh; a declared unit of {unit.symbol} contradicts that")
    return unit, scale


def parse_watts_list(doc: Any, unit_scale) -> Series:
    where = "watts list JSON"
    if not isinstance(doc, list):
        raise SignalError(f"{where}: expected a list of {{'time', 'watts'}}, got {type(doc).__name__}")
    if not doc:
        raise SignalError(f"{where}: empty list: no data points")
    if len(doc) > MAX_POINTS:
        raise SignalError(f"{where}: {len(doc)} points, above the {MAX_POINTS}-point limit")
    times, values = [], []
    for i, raw in enumerate(doc):
        p = _entry(raw, i, where)
        try:
            times.append(parse_time(_field(p, "time", i, where)))
            values.append(_number(_field(p, "watts", i, where), "watts"))
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
    unit, scale = unit_scale or (Unit.WATTS, 1.0)
    if unit is not Unit.WATTS:
        raise SignalError(f"{where}: values are watts; a declared unit of {unit.symbol} contradicts that")
    return _series(times, values, unit, scale)


_JSON_PARSERS = {
    "geyser": parse_geyser,
    "carbon-intensity": parse_carbon_intensity,
    "carbon-aware": parse_carbon_aware,
    "watts-list": parse_watts_list,
}
