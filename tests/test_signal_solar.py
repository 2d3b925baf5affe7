"""Clear-sky PV production: a realistic day-night supply computed offline by pvlib."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from watcher_geyser.signal import PolicyConfig, SignalError, SignalPolicy, SolarSite, SolarSource, parse_spec
from watcher_geyser.signal.series import parse_time
from watcher_geyser.signal.solar import solar_series

UTRECHT = SolarSite(latitude=52.1, longitude=5.1, peak_w=20_000, altitude_m=5)
SOLSTICE = parse_time("2026-06-21T00:00:00Z")
MIDWINTER = parse_time("2026-12-21T00:00:00Z")


@pytest.fixture(scope="module")
def june() -> np.ndarray:
    return solar_series(UTRECHT, SOLSTICE, SOLSTICE + 86400, 300).values


def test_a_summer_day_has_a_night_and_a_noon(june: np.ndarray) -> None:
    hours = np.arange(288) * 300 / 3600 + 300 / 7200
    assert june[hours < 2.5].max() == 0 and june[hours > 21].max() == 0  # night
    noon = hours[int(np.argmax(june))]
    assert 10.5 < noon < 13  # solar noon at 5.1 E is about 11:40 UTC
    assert 0.65 * UTRECHT.peak_w < june.max() <= UTRECHT.peak_w * (1 - UTRECHT.losses)
    assert 14 < (june > 0).sum() * 300 / 3600 < 18.5  # about 16.5 h of daylight at 52 N in June


def test_winter_is_shorter_and_weaker(june: np.ndarray) -> None:
    dec = solar_series(UTRECHT, MIDWINTER, MIDWINTER + 86400, 300).values
    assert dec.max() < 0.75 * june.max()
    assert (dec > 0).sum() < 0.6 * (june > 0).sum()
    assert dec.sum() < 0.4 * june.sum()


def test_models_agree_roughly_and_tilt_matters(june: np.ndarray) -> None:
    for model in ("simplified_solis", "haurwitz"):
        other = solar_series(SolarSite(52.1, 5.1, 20_000, model=model), SOLSTICE, SOLSTICE + 86400, 300).values
        assert abs(other.sum() - june.sum()) < 0.25 * june.sum(), model
    north = SolarSite(52.1, 5.1, 20_000, tilt_deg=60, azimuth_deg=0)
    assert solar_series(north, SOLSTICE, SOLSTICE + 86400, 300).values.sum() < 0.7 * june.sum()


def test_runs_offline(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the solar model tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    series = solar_series(SolarSite(-33.9, 18.4, 5000), SOLSTICE, SOLSTICE + 86400, 900)
    assert series.values.max() > 0


def test_source_caches_days_and_the_policy_follows_the_sun() -> None:
    source = parse_spec("solar:lat=52.1,lon=5.1,peak_w=20000,step_s=300")
    assert isinstance(source, SolarSource)
    first = source.read(SOLSTICE + 3600)
    assert source.read(SOLSTICE + 6 * 3600) is first  # same cached three days
    policy = SignalPolicy(PolicyConfig(min_dwell_s=0, dead_band=0, horizon_s=0))
    night = policy.decide(first, SOLSTICE + 3600, fleet_peak_w=12_000)
    noon = policy.decide(first, SOLSTICE + 11.5 * 3600, fleet_peak_w=12_000)
    assert night.budget_w == 0 and night.allow_power_off
    assert night.ceiling == pytest.approx(PolicyConfig().tight_ceiling)
    assert noon.budget_w > 12_000 and noon.ceiling == pytest.approx(PolicyConfig().relaxed_ceiling)
    assert not noon.allow_power_off


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("solar:lat=52.1,lon=5.1", "needs peak_w"),
        ("solar:lat=95,lon=5.1,peak_w=1", "latitude"),
        ("solar:lat=52,lon=5,peak_w=-3", "peak_w must be > 0"),
        ("solar:lat=52,lon=5,peak_w=1,model=sunny", "model must be one of"),
        ("solar:lat=52,lon=5,peak_w=1,colour=blue", "unknown option 'colour'"),
        ("solar:lat=north,lon=5,peak_w=1", "lat='north' is not a number"),
    ],
)
def test_bad_solar_specs(spec: str, message: str) -> None:
    with pytest.raises(SignalError, match=message):
        parse_spec(spec)
