"""Reading a signal's points, shared by every format's parser (``parsers``, ``carbon``): a
list of points no longer than ``MAX_POINTS``, each an object with named fields, each value a
finite number, the unit given or declared; the ``SignalError`` says which point and field."""

from __future__ import annotations

import math
from typing import Any

from watcher_geyser.inputs import shape
from watcher_geyser.signal.series import Series, SignalError, Unit

#: More points than this is refused: a year at one-minute steps is about 525,600.
MAX_POINTS = 1_000_000


def number(raw: Any, what: str, text_ok: bool = False) -> float:
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


def pick_unit(given, declared, where: str, hint: str) -> tuple[Unit, float]:
    """The unit passed in, else the one the data declares, else an error naming ``hint``."""
    if given is not None:
        return given
    if declared is not None:
        return declared
    raise SignalError(f"{where} does not declare its unit; {hint}")


def build_series(times, values, unit: Unit, scale: float, durations=None, notes=()) -> Series:
    """The ``Series`` of these points, scaled to ``unit``; refused above ``MAX_POINTS``."""
    if len(times) > MAX_POINTS:
        raise SignalError(f"{len(times)} points, above the {MAX_POINTS}-point limit; shorten the series")
    if scale != 1.0:
        values = [v * scale for v in values]
    return Series.build(times, values, unit, durations_s=durations, notes=tuple(notes))


def point_list(doc: Any, key: str, where: str) -> list:
    """``doc[key]``, a non-empty list of at most ``MAX_POINTS`` points."""
    if not isinstance(doc, dict):
        raise SignalError(f"{where}: expected a JSON object with {key!r}, got {type(doc).__name__}")
    return listed(doc.get(key), where, repr(key))


def listed(pts: Any, where: str, name: str) -> list:
    """``pts`` (called ``name`` in messages), a non-empty list of at most ``MAX_POINTS`` points."""
    if not isinstance(pts, list):
        raise SignalError(f"{where}: {name} must be a list, got {type(pts).__name__}")
    if not pts:
        raise SignalError(f"{where}: {name} is empty: no data points")
    if len(pts) > MAX_POINTS:
        raise SignalError(f"{where}: {len(pts)} points, above the {MAX_POINTS}-point limit")
    return pts


def entry(point: Any, i: int, where: str) -> dict:
    """Point ``i``, which must be a JSON object."""
    if not isinstance(point, dict):
        raise SignalError(f"{where}: point {i} must be an object, got {type(point).__name__}")
    return point


def field(point: dict, key: str, i: int, where: str) -> Any:
    """``point[key]``, which must be there."""
    if key not in point:
        raise SignalError(f"{where}: point {i} has no {key!r}")
    return point[key]
