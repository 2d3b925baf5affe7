"""A power history file: the switch-offs each host made, for the power-cycle budget offline.

The Watcher strategy reads its switch-offs from Watcher's database (``strategies.cycles``);
``geyser plan`` has no database, so it reads them from a file the operator keeps or exports,
and applies the same budget (``pipeline.cycles``) through the same ``Hold``. Two formats:

JSON::

    {"now": "2026-11-26T06:00:00Z",
     "switch_offs": [{"host": "compute-3", "at": "2026-11-25T22:10:00Z"}, ...]}

CSV, with a header row::

    host,at
    compute-3,2026-11-25T22:10:00Z

``at`` (and ``now``) is an ISO 8601 time (``Z`` or an offset; a time without one is taken as
UTC, as Watcher stores its times) or epoch seconds. ``now`` (JSON only, optional) is when the
history, and the scenario with it, was taken; without it the budget is applied at the current
time. Switch-offs more than ``FUTURE_SLACK_S`` after ``now`` are refused (a time zone
mistake, most likely): a budget counted on a wrong clock is worse than none.

Pure core: imports nothing from OpenStack.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from watcher_geyser.inputs import FUTURE_SLACK_S, InputError, epoch_s, iso, read_text

FORMAT_HINT = ('a JSON object {"now": TIME, "switch_offs": [{"host": NAME, "at": TIME}, ...]} or a CSV with '
               'a "host,at" header; TIME is ISO 8601 (2026-11-26T03:10:00Z) or epoch seconds (see README, '
               '`geyser plan --power-history`)')


class PowerHistoryError(ValueError):
    """A power history that cannot be read; the message names the entry and the fix."""


@dataclass(frozen=True)
class PowerHistory:
    """Host name -> times of its switch-offs (epoch seconds); ``now_s``: when it was taken (None: not said)."""

    switch_offs: dict[str, list[float]] = field(default_factory=dict)
    now_s: float | None = None

    @property
    def count(self) -> int:
        return sum(len(times) for times in self.switch_offs.values())


def read_power_history(path: str | Path) -> PowerHistory:
    """The history in ``path`` (JSON or CSV, module doc); ``PowerHistoryError`` when it is malformed."""
    path = Path(path)
    try:
        text = read_text(path, "power history")
    except InputError as exc:  # in words ('No such file or directory'), as every reader says it
        raise PowerHistoryError(f"{exc}; give a readable file, {FORMAT_HINT}") from None
    if text.lstrip().startswith(("{", "[")):
        entries, now_s = _json_entries(path, text)
    else:
        entries, now_s = _csv_entries(path, text), None
    history: dict[str, list[float]] = {}
    for where, host, at in entries:
        if not isinstance(host, str) or not host.strip():
            raise PowerHistoryError(f"{path}: {where}: 'host' must be a host name, got {host!r}")
        at_s = parse_time(at, f"{path}: {where}: 'at'")
        if now_s is not None and at_s > now_s + FUTURE_SLACK_S:
            raise PowerHistoryError(f"{path}: {where}: switch-off at {at!r} is after 'now' ({iso(now_s)}); check "
                                    "the time zone (write Z or an offset such as +01:00)")
        history.setdefault(host.strip(), []).append(at_s)
    return PowerHistory({host: sorted(times) for host, times in history.items()}, now_s)


def write_power_history(path: str | Path, history: PowerHistory) -> None:
    """``history`` as the JSON ``read_power_history`` reads (``geyser snapshot --power-history``)."""
    body = {
        "now": None if history.now_s is None else iso(history.now_s),
        "switch_offs": [{"host": host, "at": iso(at_s)} for host, times in sorted(history.switch_offs.items())
                        for at_s in times],
    }
    Path(path).write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


def parse_time(value: object, where: str) -> float:
    """Epoch seconds for a time of the file (``inputs.epoch_s``: ISO 8601 or epoch seconds); a
    malformed or missing one is a ``PowerHistoryError`` naming ``where``."""
    try:
        return epoch_s(value, where)
    except InputError as exc:
        raise PowerHistoryError(str(exc)) from None


def _json_entries(path: Path, text: str) -> tuple[list[tuple[str, object, object]], float | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PowerHistoryError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                                f"write {FORMAT_HINT}") from None
    if not isinstance(data, dict) or not isinstance(data.get("switch_offs"), list):
        raise PowerHistoryError(f"{path}: no 'switch_offs' list; write {FORMAT_HINT}")
    now_s = None if data.get("now") is None else parse_time(data["now"], f"{path}: 'now'")
    entries = []
    for i, entry in enumerate(data["switch_offs"]):
        if not isinstance(entry, dict):
            raise PowerHistoryError(f"{path}: switch_offs[{i}] must be an object with 'host' and 'at', got {entry!r}")
        entries.append((f"switch_offs[{i}]", entry.get("host"), entry.get("at")))
    return entries, now_s


def _csv_entries(path: Path, text: str) -> list[tuple[str, object, object]]:
    rows = csv.DictReader(text.splitlines())
    if rows.fieldnames is None or not {"host", "at"} <= {name.strip() for name in rows.fieldnames}:
        raise PowerHistoryError(f"{path}: the CSV needs a 'host,at' header row, got {rows.fieldnames!r}; "
                                f"write {FORMAT_HINT}")
    entries = []
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        entries.append((f"line {line}", row.get("host"), row.get("at")))
    return entries
