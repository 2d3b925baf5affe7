"""What an operator promises about a deferrable instance, read from its metadata.

An instance opts in through Nova instance metadata (the same keys in a scenario's
``metadata`` object); docs/design/deferral.md says why these keys:

- ``geyser:deferrable`` = ``true``: geyser may shelve it when energy is scarce;
- ``geyser:deadline`` = ISO 8601 time with its zone (``2026-06-22T06:00:00Z``): the work
  must be finished by then;
- ``geyser:max_deferral`` = a duration (``8h``, ``90m``, ``1d``, ``3600s``): the longest
  geyser may keep it shelved, counted from when geyser shelved it;
- ``geyser:runtime`` = a duration, optional (default 0): how long the instance must still
  run to finish, so that it is brought back ``runtime`` before its deadline;
- ``geyser:shelved_at`` = ISO 8601, written by geyser's own action when it shelves the
  instance: it marks the instance as shelved *by geyser* (geyser never unshelves an
  instance someone else shelved) and starts the ``max_deferral`` clock.

At least one of ``deadline`` and ``max_deferral`` is required; with both, the earlier
bound applies. Anything malformed makes the instance not deferrable, with a note that
names the key, the value and the fix: a deferral is a promise about someone's job, so
geyser never guesses one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watcher_geyser.inputs import epoch_s, iso

PREFIX = "geyser:"
DEFERRABLE = "geyser:deferrable"
DEADLINE = "geyser:deadline"
MAX_DEFERRAL = "geyser:max_deferral"
RUNTIME = "geyser:runtime"
SHELVED_AT = "geyser:shelved_at"

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off", ""})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class Deferral:
    """A deferrable instance's bounds, in epoch seconds and seconds.

    ``deadline_s`` and ``max_deferral_s``: at least one is set. ``shelved_at_s`` is set
    while geyser holds the instance shelved.
    """

    deadline_s: float | None = None
    max_deferral_s: float | None = None
    runtime_s: float = 0.0
    shelved_at_s: float | None = None

    def __post_init__(self) -> None:
        if self.deadline_s is None and self.max_deferral_s is None:
            raise ValueError("a deferral needs a deadline or a maximum deferral")
        if self.max_deferral_s is not None and self.max_deferral_s < 0:
            raise ValueError(f"max_deferral_s must be >= 0, got {self.max_deferral_s}")
        if self.runtime_s < 0:
            raise ValueError(f"runtime_s must be >= 0, got {self.runtime_s}")

    def resume_by_s(self, now_s: float) -> float:
        """The latest time the instance may run again and still keep every promise.

        For a running instance, what that time would be if it were shelved at ``now_s``.
        """
        bounds = []
        if self.deadline_s is not None:
            bounds.append(self.deadline_s - self.runtime_s)
        if self.max_deferral_s is not None:
            start = now_s if self.shelved_at_s is None else self.shelved_at_s
            bounds.append(start + self.max_deferral_s)
        return min(bounds)

    def to_metadata(self) -> dict[str, str]:
        """The metadata that reads back as this deferral."""
        meta = {DEFERRABLE: "true"}
        if self.deadline_s is not None:
            meta[DEADLINE] = iso(self.deadline_s)
        if self.max_deferral_s is not None:
            meta[MAX_DEFERRAL] = _seconds_text(self.max_deferral_s)
        if self.runtime_s:
            meta[RUNTIME] = _seconds_text(self.runtime_s)
        if self.shelved_at_s is not None:
            meta[SHELVED_AT] = iso(self.shelved_at_s)
        return meta


def parse_deferral(metadata: dict | None, where: str = "instance") -> tuple[Deferral | None, tuple[str, ...]]:
    """The deferral an instance's metadata asks for, and notes on anything wrong with it.

    Returns ``(None, ())`` for an instance that did not opt in, ``(None, notes)`` for one
    whose opt-in is malformed (treated as not deferrable), ``(Deferral, ())`` otherwise.
    Never raises.
    """
    if not metadata:
        return None, ()
    flag = metadata.get(DEFERRABLE)
    if flag is None:
        return None, ()
    text = str(flag).strip().lower()
    if text in _FALSE:
        return None, ()
    if text not in _TRUE:
        return None, (f"{where}: {DEFERRABLE}={flag!r} is not true or false; treated as not deferrable",)
    try:
        deadline = _time(metadata, DEADLINE)
        max_deferral = _duration(metadata, MAX_DEFERRAL)
        runtime = _duration(metadata, RUNTIME) or 0.0
        shelved_at = _time(metadata, SHELVED_AT)
    except ValueError as exc:
        return None, (f"{where}: {exc}; treated as not deferrable",)
    if deadline is None and max_deferral is None:
        return None, (
            f"{where}: {DEFERRABLE}=true needs {DEADLINE} (e.g. 2026-06-22T06:00:00Z) or {MAX_DEFERRAL} "
            "(e.g. 8h); treated as not deferrable",
        )
    return Deferral(deadline, max_deferral, runtime, shelved_at), ()


def parse_duration(text: str) -> float:
    """Seconds in ``'8h'``, ``'90m'``, ``'1.5d'``, ``'3600s'``; ValueError naming the format."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"duration {text!r} is not a number followed by s, m, h or d (e.g. 8h)")
    return float(match.group(1)) * _UNIT_S[match.group(2).lower()]


def _seconds_text(value_s: float) -> str:
    return format(value_s, "f").rstrip("0").rstrip(".") + "s"


def _time(metadata: dict, key: str) -> float | None:
    if key not in metadata:
        return None
    return epoch_s(metadata[key], key, zoned=True)


def _duration(metadata: dict, key: str) -> float | None:
    if key not in metadata:
        return None
    try:
        return parse_duration(metadata[key])
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None
