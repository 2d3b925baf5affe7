"""Where availability comes from: every source answers ``read(now_s) -> Series``.

``read`` raises ``SignalError`` (with a message naming the source and the fault) on any
failure; the policy turns that into a fallback. Sources hold no secrets in their
``describe()`` text, which is what decisions and logs show.

- ``ConstantSource``: one value for all time (tests, fixed caps).
- ``FileSource``: a CSV or JSON file in any format of ``parsers``.
- ``HttpSource``: the same formats from an HTTP(S) endpoint (see ``fetch``).
- ``PrometheusSource`` (``prometheus.py``) and ``SolarSource`` (``solar.py``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from watcher_geyser.signal import parsers
from watcher_geyser.signal.fetch import HttpOptions, fetch, redact_url
from watcher_geyser.signal.series import Series, SignalError, Unit


@runtime_checkable
class SignalSource(Protocol):
    """A source of availability; ``read`` may be called at any simulated or real time."""

    def read(self, now_s: float) -> Series:
        """The series around ``now_s`` (it should cover ``now_s`` and, ideally, the horizon)."""
        ...

    def describe(self) -> str:
        """A short, secret-free name for decisions and logs."""
        ...


@dataclass(frozen=True)
class ConstantSource:
    """``value`` in ``unit`` at all times."""

    value: float
    unit: Unit = Unit.WATTS

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"a constant must be a finite number >= 0, got {self.value}")
        Series.build([0.0], [self.value], self.unit)  # the unit's plausibility limit

    def read(self, now_s: float) -> Series:
        # One point from the epoch (or ``now_s`` if earlier) that lasts for ever.
        return Series.build([min(0.0, now_s)], [self.value], self.unit, [math.inf], self.describe())

    def describe(self) -> str:
        return f"constant {self.value:g} {self.unit.symbol}"


@dataclass
class FileSource:
    """A signal file; re-read only when its modification time or size changes."""

    path: Path
    fmt: str = "auto"
    unit: Unit | str | None = None
    max_bytes: int = parsers.MAX_BYTES
    _cache: tuple[tuple[int, int], Series] | None = field(default=None, repr=False)

    def read(self, now_s: float) -> Series:
        try:
            st = os.stat(self.path)
            key = (st.st_mtime_ns, st.st_size)
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            if st.st_size > self.max_bytes:
                raise SignalError(f"file is {st.st_size} bytes, above the {self.max_bytes}-byte limit")
            data = Path(self.path).read_bytes()
        except OSError as exc:
            raise SignalError(f"{self.describe()}: cannot read: {exc.strerror or exc}") from None
        except SignalError as exc:
            raise SignalError(f"{self.describe()}: {exc}") from None
        try:
            series = parsers.parse(data, self.fmt, self.unit, self.describe(), self.max_bytes)
        except SignalError as exc:
            raise SignalError(f"{self.describe()}: {exc}") from None
        self._cache = (key, series)
        return series

    def describe(self) -> str:
        return f"file {self.path}"


@dataclass(frozen=True)
class HttpSource:
    """A JSON or CSV document at ``url``, parsed like a file."""

    url: str
    fmt: str = "auto"
    unit: Unit | str | None = None
    options: HttpOptions = field(default_factory=HttpOptions)

    def read(self, now_s: float) -> Series:
        body = fetch(self.url, self.options)
        try:
            return parsers.parse(body, self.fmt, self.unit, self.describe(), self.options.max_bytes)
        except SignalError as exc:
            raise SignalError(f"{self.describe()}: {exc}") from None

    def describe(self) -> str:
        return redact_url(self.url)


def read_safely(source: SignalSource, now_s: float) -> Series | SignalError:
    """``source.read(now_s)``, or the error as a value: the policy takes either."""
    try:
        return source.read(now_s)
    except SignalError as exc:
        return exc
    except Exception as exc:  # a source bug must not stop an audit; the policy falls back
        return SignalError(f"{_describe(source)}: unexpected {type(exc).__name__}: {exc}")


def _describe(source) -> str:
    try:
        return source.describe()
    except Exception:
        return type(source).__name__
