"""Availability from a PromQL query over Prometheus' HTTP API (``/api/v1/query[_range]``).

Typical use: a gauge of available watts exported by the site's energy management system,
e.g. ``query=min_over_time(site_available_power_watts[10m])``. The query must yield one
series; several are refused with a hint to aggregate (``sum(...)``), because guessing which
one was meant would be worse.

A range query (``range_s > 0``) gives ``[now - range_s, now]`` at ``step_s``, each point valid
for one step; an instant query (``range_s == 0``) gives one point valid for ``max_age_s`` from
its evaluation time. The default is a range query reaching back twice the signal policy's
dwell (``defaults.PROMETHEUS_RANGE_S``), because one point shows no fall: the suspicion rule
(``suspicion.py``) confirms a low reading at once only when the series shows the gradual fall
that brought it there, over the dwell before its first low point, and with an instant query
every dusk was held for the dwell. Past readings are what Prometheus keeps; the read asks for
61 points by default, and Prometheus is told to give up evaluating (``timeout``) when the fetch
would stop waiting for it (``fetch.py`` bounds the whole read by its deadline).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from watcher_geyser import defaults
from watcher_geyser.signal.fetch import HttpOptions, fetch, redact_url
from watcher_geyser.signal.points import MAX_POINTS
from watcher_geyser.signal.series import Series, SignalError, Unit, parse_time

#: Points a range query may return (Prometheus refuses more: "exceeded maximum resolution").
MAX_RANGE_POINTS = 11_000


@dataclass(frozen=True)
class PrometheusSource:
    """``base_url`` is the server root (``http://prom:9090``); ``query`` is PromQL."""

    base_url: str
    query: str
    unit: Unit = Unit.WATTS
    scale: float = 1.0  # multiply values (e.g. 1000 for a gauge in kW)
    range_s: float = defaults.PROMETHEUS_RANGE_S  # 0: instant query
    step_s: float = defaults.PROMETHEUS_STEP_S
    max_age_s: float = 300.0  # how long an instant value stays valid
    options: HttpOptions = field(default_factory=HttpOptions)

    def __post_init__(self) -> None:
        if not self.query.strip():
            raise ValueError("a Prometheus source needs a PromQL query")
        if self.range_s < 0 or self.step_s <= 0 or self.max_age_s <= 0:
            raise ValueError("range_s must be >= 0, step_s and max_age_s > 0")
        if self.range_s and self.range_s / self.step_s > MAX_RANGE_POINTS:
            raise ValueError(f"range {self.range_s:g} s at step {self.step_s:g} s is {self.range_s / self.step_s:.0f} "
                             f"points, above Prometheus' limit of {MAX_RANGE_POINTS:,}; give a step of at least "
                             f"{math.ceil(self.range_s / MAX_RANGE_POINTS)} s, or a shorter range (range=0: an "
                             "instant query)")

    def read(self, now_s: float) -> Series:
        base = self.base_url.rstrip("/")
        # Prometheus keeps milliseconds: round down, so the sample it returns is not after now_s.
        now_s = math.floor(now_s * 1000) / 1000
        if self.range_s > 0:
            url = f"{base}/api/v1/query_range"
            params = {"query": self.query, "start": f"{now_s - self.range_s:.3f}", "end": f"{now_s:.3f}"}
            params["step"] = f"{self.step_s:g}"
        else:
            url = f"{base}/api/v1/query"
            params = {"query": self.query, "time": f"{now_s:.3f}"}
        # the server stops evaluating when the fetch would stop waiting (float seconds, as its API takes them)
        params["timeout"] = f"{min(self.options.timeout_s, self.options.deadline_s):g}"
        body = fetch(url, self.options, params=params)
        try:
            return self._series(json.loads(body))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            text = str(exc) if isinstance(exc, SignalError) else f"malformed API response ({type(exc).__name__}: {exc})"
            raise SignalError(f"{self.describe()}: {text}") from None

    def _series(self, doc: Any) -> Series:
        if not isinstance(doc, dict):
            raise SignalError("the API answered something other than a JSON object")
        if doc.get("status") != "success":
            raise SignalError(f"query failed: {doc.get('errorType', 'error')}: {doc.get('error', 'no message')}")
        data = doc["data"]
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            samples = [result]
        elif kind in ("vector", "matrix"):
            if not result:
                raise SignalError(f"query {self.query!r} returned no data (is the metric scraped yet?)")
            if len(result) > 1:
                labels = ", ".join(json.dumps(r.get("metric", {}), sort_keys=True) for r in result[:3])
                raise SignalError(
                    f"query returned {len(result)} series ({labels}...); aggregate it to one, e.g. sum(...)"
                )
            samples = [result[0]["value"]] if kind == "vector" else result[0]["values"]
        else:
            raise SignalError(f"query returned a {kind}; it must return a number (vector, matrix or scalar)")
        if len(samples) > MAX_POINTS:
            raise SignalError(f"{len(samples)} samples, above the {MAX_POINTS}-point limit")
        times = [parse_time(float(t)) for t, _ in samples]
        values = [_sample(v) * self.scale for _, v in samples]
        # A matrix point lasts until the next (the last one a median step); an instant value max_age_s.
        durations = None if kind == "matrix" else [self.max_age_s]
        return Series.build(times, values, self.unit, durations, origin=self.describe(), default_duration_s=self.step_s)

    def describe(self) -> str:
        return f"prometheus {redact_url(self.base_url)} query {self.query!r}"


def _sample(raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SignalError(f"sample {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SignalError(f"sample is {raw} (the gauge has no valid value)")
    return value
