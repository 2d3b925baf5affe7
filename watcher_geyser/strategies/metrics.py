"""Reading measurements through Watcher's ``datasource_backend``, never failing the audit.

A datasource that is missing, down, or has no value for some instances is an everyday
event: each reading that cannot be had becomes ``None`` (the fleet then assumes the
flavour's full vcpus for that instance, which is the safe side for packing), and the
notes say how many and why, once, not once per instance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MAX_NOTED_ERRORS = 3


@dataclass
class Readings:
    """Values by resource id (None when unavailable) and what went wrong."""

    values: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def measured(self) -> int:
        return sum(1 for v in self.values.values() if v is not None)


def _percent_to_fraction(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return min(number / 100.0, 1.0)


def read_each(resources: Iterable, key: Callable[[object], str], fetch: Callable[[object], object],
              convert: Callable[[object], float | None], what: str) -> Readings:
    """``fetch`` each resource and ``convert`` its value; errors become None and a note."""
    out = Readings()
    errors: list[str] = []
    missing = 0
    resources = list(resources)
    for res in resources:
        try:
            value = convert(fetch(res))
        except Exception as exc:  # noqa: BLE001 - any datasource failure means "not measured"
            value = None
            if len(errors) < MAX_NOTED_ERRORS:
                errors.append(f"{type(exc).__name__}: {exc}")
        if value is None:
            missing += 1
        out.values[key(res)] = value
    if missing:
        detail = f" (e.g. {'; '.join(errors)})" if errors else ""
        out.notes.append(f"{what}: no usable value for {missing} of {len(resources)}{detail}")
    return out


def instance_cpu(datasource, instances: Iterable, period_s: int, granularity_s: int) -> Readings:
    """Measured CPU use of each instance as a fraction of its vcpus (Watcher returns percent)."""
    return read_each(
        instances,
        key=lambda i: i.uuid,
        fetch=lambda i: datasource.get_instance_cpu_usage(i, period_s, "mean", granularity_s),
        convert=_percent_to_fraction,
        what="instance CPU metrics",
    )


def host_power(datasource, nodes: Iterable, period_s: int, granularity_s: int) -> tuple[Readings, Readings]:
    """(host CPU use as a fraction, host watts) per hostname, for power-model calibration."""
    nodes = list(nodes)
    cpu = read_each(nodes, key=lambda n: n.hostname,
                    fetch=lambda n: datasource.get_host_cpu_usage(n, period_s, "mean", granularity_s),
                    convert=_percent_to_fraction, what="host CPU metrics")
    watts = read_each(nodes, key=lambda n: n.hostname,
                      fetch=lambda n: datasource.get_host_power(n, period_s, "mean", granularity_s),
                      convert=_positive, what="host power metrics")
    return cpu, watts


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None
