"""Parsers on real-shaped samples of each format and on a corpus of bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher_geyser.signal import parsers, points
from watcher_geyser.signal.parsers import parse
from watcher_geyser.signal.series import Series, SignalError, Unit, parse_time

SIGNALS = Path(__file__).resolve().parent.parent / "etc" / "watcher-geyser" / "signals"
T0 = parse_time("2026-06-21T00:00:00Z")


@pytest.mark.parametrize(
    ("name", "unit", "points", "first"),
    [
        ("site-watts.csv", Unit.WATTS, 48, 6500.0),
        ("carbon-intensity.json", Unit.CARBON_G_PER_KWH, 48, 185.0),
        ("carbon-aware-forecast.json", Unit.CARBON_G_PER_KWH, 24, None),
        ("renewable-share.json", Unit.RENEWABLE_PCT, 24, 25.0),
        ("watts-list.json", Unit.WATTS, 8, 12000.0),
    ],
)
def test_shipped_examples_parse(name: str, unit: Unit, points: int, first: float | None) -> None:
    series = parse((SIGNALS / name).read_bytes(), origin=name)
    assert series.unit is unit and len(series) == points and series.origin == name
    assert series.start_s == T0
    if first is not None:
        assert series.values[0] == first


def test_csv_with_declared_unit_header_and_durations() -> None:
    text = "time,value,duration_s\n2026-06-21T00:00:00+02:00,1.5,600\n1781993400,2.5,600\n"
    series = parse(text, unit="kW")
    assert list(series.values) == [1500.0, 2500.0]
    assert list(series.durations_s) == [600.0, 600.0]
    assert series.times_s[0] == parse_time("2026-06-20T22:00:00Z")


def test_csv_last_point_lasts_the_median_step() -> None:
    series = parse("# unit: W\n0,1\n300,2\n600,3\n", fmt="csv")
    assert series.end_s == 900.0 and series.value_at(899) == 3.0 and series.value_at(900) is None


def test_carbon_intensity_uses_actual_then_forecast_and_durations() -> None:
    doc = {
        "data": [
            {"from": "2026-06-21T12:00Z", "to": "2026-06-21T12:30Z", "intensity": {"forecast": 200, "actual": 190}},
            {"from": "2026-06-21T12:30Z", "to": "2026-06-21T13:00Z", "intensity": {"forecast": 210, "actual": None}},
        ]
    }
    series = parse(json.dumps(doc))
    assert list(series.values) == [190.0, 210.0] and list(series.durations_s) == [1800.0, 1800.0]
    assert "1 of 2 points use the forecast" in series.notes[0]


def test_carbon_intensity_regional_shape() -> None:
    doc = {"data": [{"regionid": 13, "shortname": "London", "data": [
        {"from": "2026-06-21T12:00Z", "to": "2026-06-21T12:30Z", "intensity": {"forecast": 150, "index": "low"}},
    ]}]}
    assert list(parse(json.dumps(doc)).values) == [150.0]
    doc["data"].append(doc["data"][0])
    with pytest.raises(SignalError, match="2 regions"):
        parse(json.dumps(doc))


def test_carbon_intensity_generation_mix_is_a_renewable_share() -> None:
    mix = [{"fuel": "gas", "perc": 30.2}, {"fuel": "wind", "perc": 41.5}, {"fuel": "solar", "perc": 8.3},
           {"fuel": "nuclear", "perc": 15.0}, {"fuel": "biomass", "perc": 5.0}]
    one = {"data": {"from": "2026-06-21T12:00Z", "to": "2026-06-21T12:30Z", "generationmix": mix}}
    series = parse(json.dumps(one))
    assert series.unit is Unit.RENEWABLE_PCT and series.values[0] == pytest.approx(54.8)
    both = {"data": [{"from": "2026-06-21T12:00Z", "to": "2026-06-21T12:30Z",
                      "intensity": {"forecast": 120}, "generationmix": mix}]}
    assert parse(json.dumps(both)).unit is Unit.CARBON_G_PER_KWH
    assert parse(json.dumps(both), unit="%").values[0] == pytest.approx(54.8)
    with pytest.raises(SignalError, match="contradicts"):
        parse(json.dumps(both), unit="W")
    with pytest.raises(SignalError, match="contradicts"):
        parse((SIGNALS / "carbon-aware-forecast.json").read_bytes(), unit="kW")


def test_carbon_aware_single_object_and_emissions_shape() -> None:
    one = {"location": "eastus", "forecastData": [
        {"location": "eastus", "timestamp": "2026-06-21T14:45:00Z", "duration": 5, "value": 448.4}]}
    series = parse(json.dumps(one))
    assert series.values[0] == 448.4 and series.durations_s[0] == 300.0
    emissions = [{"location": "eastus", "time": "2026-06-21T14:45:00Z", "rating": 431.2, "duration": "00:05:00"},
                 {"location": "eastus", "time": "2026-06-21T14:50:00Z", "rating": 440.0, "duration": "1.00:00:00"}]
    series = parse(json.dumps(emissions))
    assert list(series.durations_s) == [300.0, 86400.0]


def test_declared_unit_overrides_and_contradictions_are_refused() -> None:
    doc = {"unit": "fraction", "points": [{"time": 0, "value": 0.5}]}
    assert parse(json.dumps(doc)).unit is Unit.FRACTION
    with pytest.raises(SignalError, match="contradicts"):
        parse(json.dumps([{"time": 0, "watts": 5}]), unit="%")


BAD = {
    "empty": ("", "auto", None, "empty"),
    "whitespace": ("  \n\n ", "auto", None, "empty"),
    "truncated json": ('{"data": [{"from": "2026-06-21T12:00Z", "to"', "auto", None, "not valid JSON"),
    "truncated csv row": ("# unit: W\n2026-06-21T00:00:00Z\n", "auto", None, "expected 'timestamp,value'"),
    "csv without unit": ("0,1\n60,2\n", "auto", None, "does not declare its unit"),
    "unknown unit": ("0,1\n", "csv", "furlongs", "unknown unit"),
    "unknown format": ("0,1\n", "xml", "W", "unknown format"),
    "value is text": ("# unit: W\n0,lots\n", "auto", None, "line 2: value must be a number"),
    "nan in csv": ("# unit: W\n0,1\n60,nan\n", "auto", None, "not a finite number"),
    "inf in csv": ("# unit: W\n0,1\n60,inf\n", "auto", None, "not a finite number"),
    "NaN in json": ('{"unit": "W", "points": [{"time": 0, "value": NaN}]}', "auto", None, "holds NaN"),
    "negative": ("# unit: W\n0,1\n60,-5\n", "auto", None, "negative"),
    "duplicated": ("# unit: W\n0,1\n0,2\n", "auto", None, "duplicated"),
    "unsorted": ("# unit: W\n60,1\n0,2\n", "auto", None, "out of order"),
    "bad timestamp": ("# unit: W\nyesterday,1\n", "auto", None, "not ISO 8601"),
    "percent above 100": ('{"unit": "%", "points": [{"time": 0, "value": 140}]}', "auto", None, "above 100"),
    "value is a string in json": ('[{"time": 0, "watts": "12"}]', "auto", None, "watts must be a number"),
    "value is a bool": ('[{"time": 0, "watts": true}]', "auto", None, "watts must be a number"),
    "value is null": ('{"unit": "W", "points": [{"time": 0, "value": null}]}', "auto", None, "must be a number"),
    "point is a list": ('{"unit": "W", "points": [[0, 1]]}', "auto", None, "point 0 must be an object"),
    "points not a list": ('{"unit": "W", "points": {"0": 1}}', "auto", None, "'points' must be a list"),
    "empty points": ('{"unit": "W", "points": []}', "auto", None, "no data points"),
    "empty list": ("[]", "auto", None, "empty JSON list"),
    "unknown shape": ('{"hello": "world"}', "auto", None, "unrecognised JSON shape"),
    "scalar json": ("42", "json", None, "unrecognised JSON shape"),
    "missing time": ('[{"watts": 5}]', "auto", None, "'time'"),
    "intensity not object": ('{"data": [{"from": 0, "to": 1, "intensity": 5}]}', "auto", None, "must be an object"),
    "zero duration": (
        '{"forecastData": [{"timestamp": "2026-06-21T00:00Z", "duration": 0, "value": 1}]}',
        "auto", None, "duration must be > 0",
    ),
    "bad timespan": ('[{"time": 0, "rating": 1, "duration": "5 minutes"}]', "auto", None, "timespan"),
    "two forecasts": ('[{"forecastData": []}, {"forecastData": []}]', "auto", None, "2 forecasts"),
    "deeply nested": ("[" * 100000 + "]" * 100000, "auto", None, "nested too deeply|unrecognised"),
    "not utf-8": (b"\xff\xfe\x00garbage", "auto", None, "not UTF-8|unrecognised|expected"),
    "huge file": ("x" * (parsers.MAX_BYTES + 1), "auto", None, "byte limit"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_inputs_give_a_clear_error(case: str) -> None:
    data, fmt, unit, message = BAD[case]
    with pytest.raises(SignalError, match=message):
        parse(data, fmt=fmt, unit=unit)


@pytest.mark.parametrize(
    "data",
    ["# unit: W\n" + "".join(f"{i},1\n" for i in range(11)), json.dumps([{"time": i, "watts": 1} for i in range(11)])],
    ids=["csv", "json"],
)
def test_too_many_points_are_refused(monkeypatch, data: str) -> None:
    for module in (parsers, points):  # CSV rows are counted as read, JSON points in signal/points.py
        monkeypatch.setattr(module, "MAX_POINTS", 10)
    with pytest.raises(SignalError, match="10"):
        parse(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        series = parse(data)
    except SignalError:
        return
    assert isinstance(series, Series) and len(series) >= 1


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(
        ["data", "points", "unit", "time", "value", "watts", "from", "to", "intensity", "actual", "forecast",
         "forecastData", "timestamp", "duration", "rating", "duration_s"]), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_value)
def test_arbitrary_json_in_known_keys_never_crashes(doc) -> None:
    try:
        series = parse(json.dumps(doc))
    except SignalError:
        return
    assert len(series) >= 1 and (series.values >= 0).all()
