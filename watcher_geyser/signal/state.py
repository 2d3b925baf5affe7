"""What the signal policy remembers between decisions, in a form a caller can persist.

Watcher re-creates a strategy for every audit and the simulator may checkpoint, so the
policy's memory (the decision it holds for hysteresis and the last good reading for the
fallback) is a small dataclass with ``to_dict``/``from_dict`` and a JSON file helper. A
state file that cannot be read never stops a decision: the policy starts afresh and the
returned note says why.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

STATE_VERSION = 1


@dataclass
class PolicyState:
    """The held decision (hysteresis) and the last good reading (fallback).

    ``held_position`` is the held decision's availability position in [0, 1] (see
    ``policy.SignalPolicy``); None means nothing is held and the next good reading applies
    at once. Times are epoch seconds.
    """

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

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> PolicyState:
        """Restore; raises ValueError naming the bad field (callers fall back to a fresh state)."""
        if not isinstance(data, dict):
            raise ValueError(f"policy state must be a JSON object, got {type(data).__name__}")
        if data.get("version", STATE_VERSION) != STATE_VERSION:
            raise ValueError(f"policy state version {data.get('version')!r} is not {STATE_VERSION}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data or data[f.name] is None:
                continue
            value = data[f.name]
            if f.name in ("held_unit", "last_good_unit", "last_good_origin"):
                if not isinstance(value, str):
                    raise ValueError(f"policy state field {f.name} must be text, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"policy state field {f.name} must be a finite number, got {value!r}")
            kwargs[f.name] = value
        return cls(**kwargs)


def load_state(path: str | Path) -> tuple[PolicyState, str | None]:
    """``(state, note)``: a fresh state and a note saying why when the file is missing or bad."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return PolicyState(), None
    except OSError as exc:
        return PolicyState(), f"cannot read policy state {path}: {exc.strerror or exc}; starting afresh"
    try:
        return PolicyState.from_dict(json.loads(text)), None
    except (ValueError, TypeError) as exc:
        return PolicyState(), f"policy state {path} is unusable ({exc}); starting afresh"


def save_state(path: str | Path, state: PolicyState) -> str | None:
    """Write atomically (temp file, rename); returns an error note instead of raising."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(state.to_dict(), fh, indent=1)
        os.replace(tmp, path)
    except OSError as exc:
        return f"cannot save policy state to {path}: {exc.strerror or exc}"
    return None
