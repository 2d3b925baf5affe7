"""Parsers of the two carbon services' JSON: the UK Carbon Intensity API (intensity per half
hour, or the renewable share of its generation mix) and the Green Software Foundation's
Carbon Aware SDK (forecasts and emissions). ``parsers.parse`` picks them by format name or
shape; each raises ``SignalError`` with the point and field at fault."""

from __future__ import annotations

import re
from typing import Any

from watcher_geyser.inputs import shape
from watcher_geyser.signal.points import build_series, entry, field, listed, number, point_list
from watcher_geyser.signal.series import Series, SignalError, Unit, parse_time

#: Fuels of the Carbon Intensity API's generation mix counted as renewable.
RENEWABLE_FUELS = frozenset({"wind", "solar", "hydro", "biomass"})


def parse_carbon_intensity(doc: Any, unit_scale) -> Series:
    """Intensity (gCO2/kWh) per half hour, or, for ``/generation`` responses (or when the
    declared unit is %), the renewable share: the ``perc`` of wind, solar, hydro and biomass."""
    where = "Carbon Intensity API JSON"
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict):
        inner = doc["data"]  # one region {"data": {"regionid", "data": [...]}} or one period
        doc = inner if "data" in inner else {"data": [inner]}
    pts = point_list(doc, "data", where)
    if isinstance(pts[0], dict) and isinstance(pts[0].get("data"), list):
        if len(pts) != 1:
            raise SignalError(f"{where}: {len(pts)} regions in one response; ask the API for one region")
        pts = point_list(pts[0], "data", where)
    first = pts[0] if isinstance(pts[0], dict) else {}
    want_mix = (unit_scale is not None and unit_scale[0] is Unit.RENEWABLE_PCT) or "intensity" not in first
    unit, scale = unit_scale or ((Unit.RENEWABLE_PCT if want_mix else Unit.CARBON_G_PER_KWH), 1.0)
    expected = Unit.RENEWABLE_PCT if want_mix else Unit.CARBON_G_PER_KWH
    if unit is not expected:
        raise SignalError(f"{where}: values are {expected.symbol}; a declared unit of {unit.symbol} contradicts that")
    times, values, durs, used_forecast = [], [], [], 0
    for i, raw in enumerate(pts):
        p = entry(raw, i, where)
        try:
            start = parse_time(field(p, "from", i, where))
            end = parse_time(field(p, "to", i, where))
            if want_mix:
                value, forecast = _renewable_pct(field(p, "generationmix", i, where)), False
            else:
                value, forecast = _intensity(field(p, "intensity", i, where))
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
        times.append(start)
        durs.append(end - start)
        values.append(value)
        used_forecast += forecast
    notes = [f"{used_forecast} of {len(pts)} points use the forecast (no actual yet)"] if used_forecast else []
    return build_series(times, values, unit, scale, durs, notes)


def _intensity(intensity: Any) -> tuple[float, bool]:
    """``(gCO2/kWh, True when it is the forecast)``: the actual when known, else the forecast."""
    if not isinstance(intensity, dict):
        raise SignalError(f"'intensity' must be an object, got {type(intensity).__name__}")
    if intensity.get("actual") is not None:
        return number(intensity["actual"], "intensity.actual"), False
    return number(intensity.get("forecast"), "intensity.forecast (no actual yet)"), True


def _renewable_pct(mix: Any) -> float:
    if not isinstance(mix, list) or not mix:
        raise SignalError("'generationmix' must be a non-empty list of {fuel, perc}")
    total = 0.0
    for j, item in enumerate(mix):
        if not isinstance(item, dict) or not isinstance(item.get("fuel"), str):
            raise SignalError(f"generationmix[{j}] must be an object with 'fuel' and 'perc'")
        perc = number(item.get("perc"), f"generationmix[{j}].perc")
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
    pts = point_list(doc, "forecastData", where)
    times, values, durs = [], [], []
    for i, raw in enumerate(pts):
        p = entry(raw, i, where)
        try:
            times.append(parse_time(field(p, "timestamp", i, where)))
            values.append(number(field(p, "value", i, where), "value"))
            durs.append(number(field(p, "duration", i, where), "duration (minutes)") * 60.0)
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
    return build_series(times, values, *_carbon_unit(unit_scale, where), durs)


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
    doc = listed(doc, where, "the document")
    rows = []
    for i, raw in enumerate(doc):
        p = entry(raw, i, where)
        try:
            rows.append(
                (
                    parse_time(field(p, "time", i, where)),
                    number(field(p, "rating", i, where), "rating"),
                    _timespan_s(field(p, "duration", i, where)),
                )
            )
        except SignalError as exc:
            raise SignalError(f"{where}: point {i}: {exc}") from None
    unit, scale = _carbon_unit(unit_scale, where)
    return build_series([r[0] for r in rows], [r[1] for r in rows], unit, scale, [r[2] for r in rows])


def _carbon_unit(unit_scale, where: str) -> tuple[Unit, float]:
    unit, scale = unit_scale or (Unit.CARBON_G_PER_KWH, 1.0)
    if unit is not Unit.CARBON_G_PER_KWH:
        raise SignalError(f"{where}: values are gCO2/kWh; a declared unit of {unit.symbol} contradicts that")
    return unit, scale
