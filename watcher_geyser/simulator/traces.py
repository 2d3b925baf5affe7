"""Utilisation traces the simulator replays: readers for three formats and one result type.

A ``Trace`` is a matrix ``util[V, T]``: the CPU use of each of V instances at T sample times
``step_s`` apart, as a fraction (0..1) of the instance's own CPU. Readers:

* ``read_planetlab(folder)``: CloudSim's PlanetLab layout (one file per VM, one integer percentage
  per line, 288 lines at 5-minute steps). Files are taken in byte-wise sorted name order, which is
  the rule every CloudSim reference figure uses (see ``traces/planetlab/FORMAT.md``).
* ``read_csv(path)``: ``time,instance,cpu_util`` rows (time in seconds, cpu_util a fraction 0..1), or
  ``time,instance,cpu_pct`` (percentages 0..100), optionally followed by ``mips`` and ``ram_mb``
  columns giving each instance's size (else sizes come from the data centre or the scenario). A
  ``cpu_util`` file whose values all look like percentages (some above 1, none strictly between 0
  and 1) is read as percentages, as before; one mixing both (45 and 0.3) is refused, never
  guessed. A second row for the same (time, instance) is refused, naming both lines.
* ``read_scenario_series(path)``: a scenario (docs/scenario.md) whose instances carry
  ``cpu_util_series`` (fractions, one per step) and an optional top-level ``step_s``.

A malformed file raises ``TraceError`` naming the file and the line, so a bad row among a million
can be found and fixed.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from watcher_geyser.inputs import LIMITS, InputError, load_json, number, read_text

PLANETLAB_STEP_S = 300
PLANETLAB_SAMPLES = 288


class TraceError(ValueError):
    """A trace that cannot be read; the message names the file and, where it applies, the line."""


@dataclass(frozen=True)
class Trace:
    """CPU use of V instances at T samples, ``step_s`` seconds apart, as fractions 0..1."""

    names: tuple[str, ...]
    util: np.ndarray  # float64[V, T]
    step_s: float
    source: str = ""
    vm_mips: np.ndarray | None = None  # float64[V]: sizes given by the trace itself, if any
    vm_ram_mb: np.ndarray | None = None
    vm_pes: np.ndarray | None = None  # int64[V]: virtual cores, where the trace gives them (public datasets)

    def __post_init__(self) -> None:
        if self.util.ndim != 2 or self.util.shape[0] != len(self.names):
            raise TraceError(f"{self.source}: util must be [instances, samples], got shape {self.util.shape}")
        if self.step_s <= 0:
            raise TraceError(f"{self.source}: step_s must be > 0, got {self.step_s}")

    @property
    def samples(self) -> int:
        return int(self.util.shape[1])

    def head(self, count: int) -> Trace:
        """The first ``count`` instances (in the trace's order): a quick, smaller replay."""
        mips = None if self.vm_mips is None else self.vm_mips[:count]
        ram = None if self.vm_ram_mb is None else self.vm_ram_mb[:count]
        pes = None if self.vm_pes is None else self.vm_pes[:count]
        return Trace(self.names[:count], self.util[:count], self.step_s, self.source, mips, ram, pes)


def read_planetlab(folder: str | Path, limit: int | None = None) -> Trace:
    """Read a PlanetLab day folder; ``limit`` keeps the first files in sorted order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TraceError(f"{folder}: not a folder; a PlanetLab trace is a folder with one file per VM")
    names = sorted((n for n in os.listdir(folder) if not n.startswith(".") and (folder / n).is_file()), key=os.fsencode)
    names = [n for n in names if n not in ("FORMAT.md", "README.md")]
    if limit is not None:
        names = names[:limit]
    if not names:
        raise TraceError(f"{folder}: no trace files found")
    util = np.empty((len(names), PLANETLAB_SAMPLES))
    for i, name in enumerate(names):
        util[i] = _planetlab_file(folder / name)
    return Trace(tuple(names), util / 100.0, float(PLANETLAB_STEP_S), str(folder))


def _planetlab_file(path: Path) -> np.ndarray:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read: {exc}") from exc
    if len(lines) != PLANETLAB_SAMPLES:
        raise TraceError(
            f"{path}: expected {PLANETLAB_SAMPLES} lines (one 5-minute sample each), found {len(lines)}; "
            "repair the file or move it out of the day's folder (every file in it is a VM)"
        )
    values = np.empty(PLANETLAB_SAMPLES)
    for lineno, line in enumerate(lines, start=1):
        text = line.strip()
        try:
            value = int(text)
        except ValueError:
            raise TraceError(f"{path}, line {lineno}: {text!r} is not an integer percentage 0..100") from None
        if not 0 <= value <= 100:
            raise TraceError(f"{path}, line {lineno}: {value} is outside 0..100")
        values[lineno - 1] = value
    return values


def read_csv(path: str | Path) -> Trace:
    """Read ``time,instance,cpu_util`` (or ``cpu_pct``) rows into a trace; every instance needs every time."""
    path = Path(path)
    try:
        text = read_text(path, "the CSV trace")
    except InputError as exc:
        raise TraceError(str(exc)) from None
    rows: list[tuple[float, str, float]] = []
    sizes: dict[str, tuple[float, float]] = {}
    seen: dict[tuple[float, str], int] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (next(reader, None) or [])]
        if header[:2] != ["time", "instance"] or header[2:3] not in (["cpu_util"], ["cpu_pct"]):
            raise TraceError(
                f"{path}, line 1: expected the header 'time,instance,cpu_util[,mips,ram_mb]' (or cpu_pct for "
                f"percentages), got {len(header)} column(s) starting {','.join(header[:3])[:60]!r}"
            )
        percent = header[2] == "cpu_pct"
        has_sizes = header[3:5] == ["mips", "ram_mb"]
        for row in reader:
            lineno = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 3:
                raise TraceError(f"{path}, line {lineno}: expected 3 fields time,instance,{header[2]}, got {len(row)}")
            try:
                time_s, value = float(row[0]), float(row[2])
            except ValueError:
                raise TraceError(f"{path}, line {lineno}: time and {header[2]} must be numbers") from None
            if not np.isfinite(value) or value < 0 or not np.isfinite(time_s):
                raise TraceError(f"{path}, line {lineno}: {header[2]} must be a finite number >= 0, got {row[2]!r}")
            name = row[1].strip()
            first = seen.setdefault((time_s, name), lineno)
            if first != lineno:
                raise TraceError(f"{path}, line {lineno}: a second sample of instance {name!r} at time {time_s:g} "
                                 f"(the first is on line {first}); keep one row per time and instance")
            rows.append((time_s, name, value))
            if has_sizes:
                _size(row, path, lineno, sizes)
    except csv.Error as exc:
        raise TraceError(f"{path}, line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise TraceError(f"{path}: no data rows")
    times = sorted({r[0] for r in rows})
    names = sorted({r[1] for r in rows}, key=os.fsencode)
    steps = np.diff(times)
    if len(times) > 1 and not np.allclose(steps, steps[0]):
        raise TraceError(f"{path}: sample times must be evenly spaced, found steps {sorted(set(steps.tolist()))[:5]}")
    t_index = {t: i for i, t in enumerate(times)}
    v_index = {n: i for i, n in enumerate(names)}
    util = np.full((len(names), len(times)), np.nan)
    for time_s, name, value in rows:
        util[v_index[name], t_index[time_s]] = value
    if np.isnan(util).any():
        v, t = np.argwhere(np.isnan(util))[0]
        raise TraceError(
            f"{path}: instance {names[v]!r} has no sample at time {times[t]:g}; every instance needs every time"
        )
    util = _as_fractions(util, percent, path)
    step_s = float(steps[0]) if len(times) > 1 else float(PLANETLAB_STEP_S)
    if not sizes:
        return Trace(tuple(names), util, step_s, str(path))
    mips = np.array([sizes[n][0] for n in names])
    ram = np.array([sizes[n][1] for n in names])
    return Trace(tuple(names), util, step_s, str(path), mips, ram)


def _as_fractions(util: np.ndarray, percent: bool, path: Path) -> np.ndarray:
    """Fractions 0..1 from a ``cpu_pct`` column, or from a ``cpu_util`` column (percentages only when
    every value reads as one: some above 1 and none strictly between 0 and 1)."""
    top = float(util.max()) if util.size else 0.0
    if percent or top > 1.0:
        if top > 100.0:
            raise TraceError(f"{path}: values above 100 ({top:g}); give fractions 0..1 (cpu_util) or "
                             "percentages 0..100 (cpu_pct)")
        between = util[(util > 0) & (util < 1)]
        if not percent and between.size:
            raise TraceError(
                f"{path}: cpu_util mixes percentages (up to {top:g}) and fractions (such as {between[0]:g}); "
                "write every value the same way, fractions 0..1 under cpu_util or percentages under cpu_pct"
            )
        return util / 100.0
    return util


def _size(row: list[str], path: Path, lineno: int, sizes: dict[str, tuple[float, float]]) -> None:
    try:
        mips, ram_mb = float(row[3]), float(row[4])
    except (IndexError, ValueError):
        raise TraceError(f"{path}, line {lineno}: mips and ram_mb must be numbers, got {row[3:5]}") from None
    if not (mips > 0 and ram_mb >= 0):
        raise TraceError(f"{path}, line {lineno}: mips must be > 0 and ram_mb >= 0, got {row[3:5]}")
    size = (mips, ram_mb)
    name = row[1].strip()
    if sizes.setdefault(name, size) != size:
        raise TraceError(f"{path}, line {lineno}: instance {name!r} changes size from {sizes[name]} to {size}")


def read_scenario_series(path: str | Path) -> tuple[Trace, dict]:
    """Read a scenario with ``cpu_util_series`` per instance; returns the trace and the raw scenario."""
    path = Path(path)
    try:
        data = load_json(read_text(path, "the scenario"), str(path))
    except InputError as exc:
        raise TraceError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("instances"), list):
        raise TraceError(f"{path}: a scenario is a JSON object with an 'instances' list")
    names, series = [], []
    for i, inst in enumerate(data["instances"]):
        where = f"{path}: instance {i} ({inst.get('uuid', '?') if isinstance(inst, dict) else '?'})"
        values = inst.get("cpu_util_series") if isinstance(inst, dict) else None
        if not isinstance(values, list) or not values:
            raise TraceError(
                f"{where}: needs 'cpu_util_series', a non-empty list of fractions 0..1 (a scenario without "
                "series gives sizes only: pass it as --scenario, with a CSV or PlanetLab --trace)"
            )
        arr = np.asarray(values, dtype=float) if all(isinstance(x, (int, float)) for x in values) else None
        if arr is None or not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
            raise TraceError(f"{where}: 'cpu_util_series' must hold numbers in 0..1")
        names.append(str(inst.get("uuid", i)))
        series.append(arr)
    lengths = {len(s) for s in series}
    if len(lengths) != 1:
        raise TraceError(f"{path}: every 'cpu_util_series' must have the same length, found {sorted(lengths)}")
    try:
        step_s = number(data.get("step_s", PLANETLAB_STEP_S), str(path), "step_s", low=0, low_open=True,
                        high=LIMITS["step_s"][1], hint="seconds between two samples, e.g. 300")
    except InputError as exc:
        raise TraceError(str(exc)) from None
    return Trace(tuple(names), np.vstack(series), step_s, str(path)), data
