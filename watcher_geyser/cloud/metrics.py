"""Measured CPU use per server from Prometheus, for ``geyser snapshot --cpu-prometheus``.

The operator gives the PromQL that yields one series per server, valued as the share of
the server's vcpus in use (0..1; ``scale`` converts percent), and the label holding the
server's uuid. For example, with a libvirt exporter (metric and label names depend on
the exporter and its version; check yours)::

    rate(libvirt_domain_info_cpu_time_seconds_total[10m]) / libvirt_domain_info_virtual_cpus   label: uuid

The HTTP client is the signal package's (timeouts, retries, TLS, redacted URLs); nothing
here imports OpenStack.
"""

from __future__ import annotations

import json
import math

from watcher_geyser.signal.fetch import HttpOptions, fetch, redact_url
from watcher_geyser.signal.series import SignalError


def prometheus_cpu_util(
    base_url: str,
    query: str,
    label: str = "uuid",
    scale: float = 1.0,
    options: HttpOptions | None = None,
) -> tuple[dict[str, float], list[str]]:
    """(server uuid -> CPU use 0..1, notes). Raises ``SignalError`` naming what failed."""
    where = f"CPU use from Prometheus {redact_url(base_url)} (query {query!r})"
    if not query.strip():
        raise SignalError(f"{where}: the query is empty")
    try:
        body = fetch(base_url.rstrip("/") + "/api/v1/query", options, params={"query": query})
    except SignalError as exc:
        raise SignalError(f"could not read {where}: {exc}") from None
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise SignalError(f"could not read {where}: the answer is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("status") != "success":
        detail = doc.get("error", "no message") if isinstance(doc, dict) else "not a JSON object"
        raise SignalError(f"could not read {where}: the query failed: {detail}")
    data = doc.get("data") or {}
    if data.get("resultType") != "vector":
        raise SignalError(f"{where}: the query must return an instant vector, one series per server")
    return _per_server(data.get("result") or [], label, scale, where)


def _per_server(result: list, label: str, scale: float, where: str) -> tuple[dict[str, float], list[str]]:
    values: dict[str, float] = {}
    unlabelled = clipped = bad = 0
    for row in result:
        uuid = (row.get("metric") or {}).get(label)
        if not uuid:
            unlabelled += 1
            continue
        try:
            value = float(row["value"][1]) * scale
        except (KeyError, IndexError, TypeError, ValueError):
            bad += 1
            continue
        if not math.isfinite(value):
            bad += 1
            continue
        if not 0 <= value <= 1:
            clipped += 1
            value = min(max(value, 0.0), 1.0)
        values[uuid] = value
    notes = []
    if not values:
        raise SignalError(f"{where}: no series carries the label {label!r}; name the uuid label with --cpu-label")
    if unlabelled:
        notes.append(f"{where}: {unlabelled} series without the label {label!r}, ignored")
    if bad:
        notes.append(f"{where}: {bad} series without a finite value, ignored")
    if clipped:
        notes.append(f"{where}: {clipped} value(s) outside 0..1 clipped (percent? use --cpu-scale 0.01)")
    return values, notes
