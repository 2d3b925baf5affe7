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
import select
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from watcher_geyser.signal import parsers
from watcher_geyser.signal.fetch import DEFAULT_DEADLINE_S, HttpOptions, fetch, redact_url
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


@dataclass(frozen=True)
class FileOptions:
    """Bounds on reading a signal file (config ``file_max_bytes``, ``read_deadline_s``,
    ``allow_special_files``). A FIFO or a device (``/dev/zero``) has no size to check and
    may never end, so only regular files are read unless ``allow_special`` is set; even
    then the read stops at ``max_bytes`` and ``deadline_s``."""

    max_bytes: int = parsers.MAX_BYTES
    deadline_s: float = DEFAULT_DEADLINE_S
    allow_special: bool = False

    def __post_init__(self) -> None:
        if not self.max_bytes > 0 or not self.deadline_s > 0:
            raise ValueError("file max_bytes and deadline_s must be > 0")


@dataclass
class FileSource:
    """A signal file; re-read only when its modification time or size changes."""

    path: Path
    fmt: str = "auto"
    unit: Unit | str | None = None
    options: FileOptions = field(default_factory=FileOptions)
    _cache: tuple[tuple[int, int], Series] | None = field(default=None, repr=False)

    @property
    def max_bytes(self) -> int:
        return self.options.max_bytes

    def read(self, now_s: float) -> Series:
        try:
            key, data = read_bounded(Path(self.path), self.options, self._cache[0] if self._cache else None)
        except OSError as exc:
            raise SignalError(f"{self.describe()}: cannot read: {exc.strerror or exc}") from None
        except SignalError as exc:
            raise SignalError(f"{self.describe()}: {exc}") from None
        if data is None and self._cache is not None:
            return self._cache[1]
        assert data is not None
        try:
            series = parsers.parse(data, self.fmt, self.unit, self.describe(), self.max_bytes)
        except SignalError as exc:
            raise SignalError(f"{self.describe()}: {exc}") from None
        self._cache = (key, series)
        return series

    def describe(self) -> str:
        return f"file {self.path}"


def read_bounded(path: Path, options: FileOptions,
                 unchanged: tuple[int, int] | None = None) -> tuple[tuple[int, int], bytearray | None]:
    """``((mtime_ns, size), bytes)`` of ``path``, or ``(key, None)`` when the key equals ``unchanged``.

    Opened without blocking (a FIFO with no writer must not hang the open), refused unless a
    regular file (or ``options.allow_special``), read in chunks up to ``max_bytes`` + 1 and
    until ``deadline_s``: the size a file reports is not trusted. Raises ``SignalError``
    naming the limit and the option that sets it, or ``OSError``.
    """
    deadline = time.monotonic() + options.deadline_s
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) and not options.allow_special:
            raise SignalError(
                f"is a {_kind(st.st_mode)}, not a regular file; point the source at a regular file "
                "(or set [geyser_signal] allow_special_files = true)"
            )
        key = (st.st_mtime_ns, st.st_size)
        if stat.S_ISREG(st.st_mode) and unchanged == key:
            return key, None
        if st.st_size > options.max_bytes:
            raise SignalError(f"file is {st.st_size} bytes, above the {options.max_bytes}-byte limit (file_max_bytes)")
        data = bytearray()
        while True:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise SignalError(f"not read to its end within {options.deadline_s:g} s (read_deadline_s)")
            if not select.select([fd], [], [], remaining_s)[0]:
                continue
            try:
                chunk = os.read(fd, min(65536, options.max_bytes + 1 - len(data)))
            except BlockingIOError:
                continue
            if not chunk:
                return key, data
            data.extend(chunk)
            if len(data) > options.max_bytes:
                raise SignalError(f"more than {options.max_bytes} bytes (file_max_bytes); stopped reading")
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory")):
        if test(mode):
            return name
    return "special file"


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
