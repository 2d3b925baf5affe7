"""What the signal policy remembers between decisions, in a form a caller can persist.

Watcher re-creates a strategy for every audit and the simulator may checkpoint, so the
policy's memory (the decision it holds for hysteresis and the last good reading for the
fallback) is a small dataclass with ``to_dict``/``from_dict`` and a JSON file helper. A
state file that cannot be read never stops a decision: the policy starts afresh and the
returned note says why.

Memory is **keyed by source** (``PolicyState.source``, the source's ``describe()`` text):
a reading of one source is never the fallback or the held decision of another. The file
keeps one entry per source (``{"version": 2, "sources": {name: state}}``); a version-1
file (one unkeyed state) is not trusted and the policy starts afresh.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

STATE_VERSION = 2
MAX_SOURCES = 64  # entries kept in a state file; the least recently used go first


@dataclass
class PolicyState:
    """The held decision (hysteresis) and the last good reading (fallback).

    ``held_position`` is the held decision's availability position in [0, 1] (see
    ``policy.SignalPolicy``); None means nothing is held and the next good reading applies
    at once. ``suspicious_since_s`` is when the source's readings became implausibly low
    (None: the last one was plausible); ``held_suspicious`` says the held decision came from
    such a reading (a plausible one then replaces it at once); ``low_fell_gradually`` says the
    current low run was reached by a gradual fall (``suspicion.gradual_fall``) and is confirmed
    while it lasts, even once the series no longer reaches back to the fall. Times are epoch seconds.
    """

    source: str = ""
    held_position: float | None = None
    held_level: float = 0.0
    held_budget_w: float | None = None
    held_ceiling: float | None = None
    held_unit: str | None = None
    held_since_s: float | None = None
    last_good_value: float | None = None
    last_good_now_value: float | None = None
    last_good_unit: str | None = None
    last_good_at_s: float | None = None
    last_good_origin: str = ""
    suspicious_since_s: float | None = None
    held_suspicious: bool = False
    low_fell_gradually: bool = False
    touched_s: float | None = None  # last decision that used this entry (to drop old sources)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> PolicyState:
        """Restore; raises ValueError naming the bad field (callers fall back to a fresh state)."""
        if not isinstance(data, dict):
            raise ValueError(f"policy state must be a JSON object, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data or data[f.name] is None:
                continue
            value = data[f.name]
            if f.name in ("held_suspicious", "low_fell_gradually"):
                if not isinstance(value, bool):
                    raise ValueError(f"policy state field {f.name} must be true or false, got {value!r}")
            elif f.name in ("source", "held_unit", "last_good_unit", "last_good_origin"):
                if not isinstance(value, str):
                    raise ValueError(f"policy state field {f.name} must be text, got {type(value).__name__}")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"policy state field {f.name} must be a finite number, got {value!r}")
            kwargs[f.name] = value
        return cls(**kwargs)


def load_state(path: str | Path, source: str = "") -> tuple[PolicyState, str | None]:
    """``(state of source, note)``: a fresh state and a note saying why when the file is missing or bad.

    ``source`` is the source's ``describe()`` text; a source the file does not know starts afresh.
    """
    try:
        book, note = _load_book(Path(path))
    except ValueError as exc:
        return PolicyState(source=source), str(exc)
    entry = book.get(source)
    if entry is None:
        return PolicyState(source=source), note
    try:
        state = PolicyState.from_dict(entry)
    except (ValueError, TypeError) as exc:
        return PolicyState(source=source), f"policy state {path} is unusable for this source ({exc}); starting afresh"
    state.source = source
    return state, note


def save_state(path: str | Path, state: PolicyState) -> str | None:
    """Store ``state`` under its source, keeping the other sources' entries; written atomically
    (temp file, rename). Returns an error note instead of raising."""
    path = Path(path)
    try:
        book, _ = _load_book(path)
    except ValueError:
        book = {}  # unusable: replaced by a good one
    book[state.source] = state.to_dict()
    if len(book) > MAX_SOURCES:
        recent = sorted(book, key=lambda k: book[k].get("touched_s") or 0.0, reverse=True)[:MAX_SOURCES]
        book = {k: book[k] for k in recent}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump({"version": STATE_VERSION, "sources": book}, fh, indent=1)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, ValueError) as exc:
        return (f"cannot save policy state to {path}: {getattr(exc, 'strerror', None) or exc}; this decision "
                "stands, but the next starts without its memory (hysteresis, last good value): make the folder "
                "writable or choose another state file")
    return None


def _load_book(path: Path) -> tuple[dict[str, Any], str | None]:
    """The file's ``{source: state dict}``; ({}, None) when absent; ValueError saying why when unusable."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read policy state {path}: {getattr(exc, 'strerror', None) or exc}; "
                         "starting afresh") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"policy state {path} is not JSON ({type(exc).__name__}); starting afresh") from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION or not isinstance(data.get("sources"), dict):
        version = data.get("version") if isinstance(data, dict) else None
        raise ValueError(f"policy state {path} has version {version!r}, not {STATE_VERSION} (one entry per "
                         "source); starting afresh")
    return data["sources"], None
