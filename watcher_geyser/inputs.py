"""Checks every outside number and file goes through: one place, one kind of message.

A number from a scenario, a trace or a command-line flag must be a real, finite number in
its documented range; a file must be UTF-8 text (JSON no deeper than Python can parse,
integers of at most a few thousand digits); an output must be writable before a long run
starts and is written atomically. Every failure is an ``InputError`` whose one-line message
says what is wrong, where, and the fix. Pure: imports nothing from OpenStack.

The ranges (``LIMITS``) are far beyond any real cloud and well inside what the solver's
integer arithmetic and float sums can hold (a 1e30-vcpu host overflowed CP-SAT; a power of
1e308 W overflowed a sum): docs/scenario.md lists them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad input; the message names what, where and the fix on one line."""


#: key -> (low, high) inclusive, for scenario fields and the flags that mirror them.
LIMITS: dict[str, tuple[float, float]] = {
    "vcpus": (0, 1_000_000),
    "core_size": (0, 1_000_000),  # CPU one physical core gives, in vcpus' worth
    "cores": (0, 1_000_000),
    "memory_mb": (0, 1e9),  # 1 PB
    "disk_gb": (0, 1e9),  # 1 EB
    "reserved_vcpus": (0, 1_000_000),
    "reserved_memory_mb": (0, 1e9),
    "reserved_disk_gb": (0, 1e9),
    "cpu_allocation_ratio": (0, 1000),
    "ram_allocation_ratio": (0, 1000),
    "disk_allocation_ratio": (0, 1000),
    "idle_w": (0, 1e6),
    "max_w": (0, 1e6),
    "curve_w": (0, 1e6),
    "power_budget_w": (0, 1e12),
    "step_s": (0, 365 * 86400),
}


#: Epoch values above this are milliseconds (Prometheus and JavaScript write those): 1e11 s is the year 5138.
MILLISECONDS_ABOVE = 1e11
LATEST_S = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last time Python's datetime can write
#: How far a time read may lie after the clock it is compared with (a power history's switch-offs
#: after its ``now``, a scenario's ``moved_at`` after the plan's clock): two machines' clocks differ a
#: little; more is a time zone mistake, most likely.
FUTURE_SLACK_S = 60.0
TIME_HINT = "write ISO 8601 such as 2026-11-26T03:10:00Z (no offset: UTC) or epoch seconds"
ZONED_HINT = "write ISO 8601 with its zone, such as 2026-11-26T03:10:00Z"


def epoch_s(value: Any, where: str, *, zoned: bool = False, show: bool = False) -> float:
    """Epoch seconds for a time read from outside: the one reader of every time we are given.

    Accepted: ISO 8601 text with ``Z`` or an offset (without one: UTC, as Watcher stores its
    times), a ``datetime`` (naive: UTC), epoch seconds as a number or as text, and epoch
    milliseconds (any epoch value above ``MILLISECONDS_ABOVE``). Refused with an
    ``InputError`` naming ``where`` and the fix: a missing value (None, empty text), a
    boolean, NaN or an infinity, malformed text, any other type, and times before 1970 or
    after 9999. A bad text is described by its length, never shown: it may be a secret read
    from a wrong file, and messages go to logs.

    ``zoned=True`` accepts only ISO 8601 text that names its zone: for a promise someone
    wrote by hand (a deferral's deadline), where a missing zone or a bare number is more
    likely a mistake than a meaning, and geyser must not guess.

    ``show=True`` quotes a malformed text in the message: for a flag (``--start``), whose text
    the operator typed and needs to see, not a file's.
    """
    hint = ZONED_HINT if zoned else TIME_HINT
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        raise InputError(f"{where}: missing or not a time ({shape(value)}); {hint}")
    if zoned:
        value = _zoned_datetime(value, where)
    elif isinstance(value, str):
        value = _number_or_datetime(value.strip(), where, show)
    if isinstance(value, dt.datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    elif isinstance(value, int | float):
        if isinstance(value, int) and abs(value) > 10**18:
            raise InputError(f"{where}: {shape(value)} is not a time; {TIME_HINT}")
        seconds = float(value)
        if not math.isfinite(seconds):
            raise InputError(f"{where}: {value!r} is not a time; {TIME_HINT}")
        seconds = seconds / 1000.0 if abs(seconds) > MILLISECONDS_ABOVE else seconds
    else:
        raise InputError(f"{where}: missing or not a time ({shape(value)}); {TIME_HINT}")
    if not 0 <= seconds <= LATEST_S:
        raise InputError(f"{where}: {seconds:g} s is not a time between 1970 and 9999; {hint}")
    return seconds


def _zoned_datetime(value: Any, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise InputError(f"{where}: {shape(value)} is not ISO 8601 text; {ZONED_HINT}")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{where}: {shape(value)} is not an ISO 8601 time; {ZONED_HINT}") from None
    if moment.tzinfo is None:
        raise InputError(f"{where}: the time has no time zone; add Z for UTC (or an offset such as +02:00)")
    return moment


def _number_or_datetime(text: str, where: str, show: bool = False) -> float | dt.datetime:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        problem = "is not a time: it is not ISO 8601 nor a number"
        shown = repr(text) if show else shape(text)
        raise InputError(f"{where}: {shown} {problem}; {TIME_HINT}") from None


def closest(word: Any, known) -> str | None:
    """The known name ``word`` most likely misspells ('ceilng' -> 'ceiling'), or None: a typo
    should be named with its fix, not only refused or ignored."""
    close = difflib.get_close_matches(str(word), sorted(known), n=1, cutoff=0.8)
    return close[0] if close else None


def did_you_mean(word: Any, known) -> str:
    """``"did you mean 'ceiling'? "`` to put before the list of valid names, or ``""``."""
    guess = closest(word, known)
    return f"did you mean {guess!r}? " if guess else ""


def shape(raw: Any) -> str:
    """What a bad value looks like without showing it: text read from a file or a server may
    be a secret (``/etc/shadow``, a token) and messages go to logs and Watcher's ``nop``."""
    if isinstance(raw, str):
        return f"text of {len(raw)} character(s)"
    if isinstance(raw, bool | int | float) or raw is None:
        return repr(raw) if not isinstance(raw, int) or abs(raw) < 10**18 else f"an integer of {len(str(raw))} digits"
    return type(raw).__name__


def iso(t_s: float) -> str:
    """ISO 8601 UTC text for epoch seconds (``'-inf'``/``'inf'`` for unbounded ends)."""
    if math.isnan(t_s):
        return "an invalid time (NaN)"
    if math.isinf(t_s):
        return "the end of time" if t_s > 0 else "the beginning of time"
    try:
        return dt.datetime.fromtimestamp(t_s, dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{t_s:g} s"


def number(value: Any, where: str, key: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, integer: bool = False, hint: str = "") -> float:
    """``value`` as a float after checking it is a finite real number in ``[low, high]``.

    ``low``/``high`` default to ``LIMITS[key]`` when the key is listed. ``low_open``
    excludes ``low`` itself. Booleans, text, NaN, infinities and integers too long for a
    float are refused with a message naming ``where`` and ``key``.
    """
    if low is None and high is None and key in LIMITS:
        low, high = LIMITS[key]
    problem = complaint(value, low, high, low_open, integer)
    if problem is not None:
        raise InputError(f"{where}: {key!r} {problem}" + (f"; {hint}" if hint else ""))
    return float(value)


def complaint(value: Any, low: float | None, high: float | None, low_open: bool = False,
              integer: bool = False) -> str | None:
    """What is wrong with ``value`` as a number in range ("must be > 0, got -1"), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = f"text of {len(value)} character(s)" if isinstance(value, str) else type(value).__name__
        return f"must be a number, got {shown}"
    if isinstance(value, int) and abs(value) > 10**18:
        return f"is an integer of {len(str(abs(value)))} digits, above {_g(high)}"
    as_float = float(value)
    if not math.isfinite(as_float):
        return f"must be a finite number, got {value!r}"
    if integer and as_float != int(as_float):
        return f"must be a whole number, got {value!r}"
    if low is not None and (as_float < low or (low_open and as_float == low)):
        return f"must be {'>' if low_open else '>='} {_g(low)}, got {_g(as_float)}"
    if high is not None and as_float > high:
        return f"must be at most {_g(high)}, got {_g(as_float)}"
    return None


def _g(x: float | None) -> str:
    """1,000,000 for round numbers a person reads, 0.5 or 1e+30 otherwise."""
    if x is None:
        return "any"
    return f"{int(x):,}" if abs(x) < 1e16 and x == int(x) else f"{x:g}"


def read_text(path: str | Path, what: str) -> str:
    """The file as text; refuses a non-UTF-8 file (binary, Latin-1) naming the first bad byte."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: {what} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None


def load_json(text: str, where: str) -> Any:
    """Parse JSON text; every failure (syntax, nesting, huge integers, NaN) is one clear line."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply; a scenario needs only a few levels") from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion", NaN
        text = str(exc)
        if "digits" in text:
            text = "a number with thousands of digits; write numbers in their documented ranges"
        raise InputError(f"{where}: {text}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON holds {name}, which is not a number; write a finite number or remove the field")


def check_writable_folder(folder: str | Path, flag: str) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before a long run."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".geyser-write-test")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(
            f"{flag} {folder}: cannot write there ({exc.strerror or exc}); choose a folder you can write to"
        ) from None
    return folder


def write_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``: readers see
    the old file or the new one, never half of one. Raises ``OSError``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cli_number(*, low: float | None = None, high: float | None = None, low_open: bool = False,
               integer: bool = False, none: str | None = None) -> Callable[[str], Any]:
    """An argparse ``type=`` that reads a finite number in range (``none``: a word meaning None).

    argparse turns the ``ArgumentTypeError`` into ``geyser CMD: error: argument --x: ...``,
    exit code 2, one line.
    """

    def parse(text: str) -> Any:
        if none is not None and text.strip().lower() == none:
            return None
        try:
            value: Any = int(text) if integer else float(text)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}") from None
        problem = complaint(value, low, high, low_open, integer)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse
