"""What the public-dataset readers share: opening plain or gzipped files, and turning samples
taken at irregular times into the simulator's ``Trace`` (one row per VM, fixed steps)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np

from watcher_geyser.simulator.traces import Trace, TraceError


def open_text(path: Path) -> io.TextIOBase:
    """``path`` as text; ``.gz`` files are decompressed on the fly (the datasets ship gzipped)."""
    try:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path), newline="")
        return path.open(newline="")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def number(text: str, path: Path, lineno: int, column: str) -> float:
    """A finite number from a field, or a ``TraceError`` naming the file, line and column."""
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{path}, line {lineno}: {column} must be a number, got {text.strip()!r}") from None
    if not np.isfinite(value):
        raise TraceError(f"{path}, line {lineno}: {column} must be finite, got {text.strip()!r}")
    return value


def on_grid(
    samples: dict[str, list[tuple[float, float]]],
    step_s: float,
    source: str,
    mips: dict[str, float],
    ram_mb: dict[str, float],
    pes: dict[str, int],
) -> Trace:
    """VMs' (time_s, utilisation) samples on one grid of ``step_s`` from the earliest sample.

    A step takes the mean of a VM's samples in it; a step without any holds the VM's previous
    value (0 before its first sample: the VM did not exist yet, so it asked for nothing).
    VMs come in byte-wise sorted name order, as PlanetLab's files do.
    """
    if not samples:
        raise TraceError(f"{source}: no CPU samples found")
    start = min(t for rows in samples.values() for t, _ in rows)
    end = max(t for rows in samples.values() for t, _ in rows)
    steps = int((end - start) // step_s) + 1
    names = sorted(samples, key=lambda n: n.encode())
    util = np.zeros((len(names), steps))
    for i, name in enumerate(names):
        rows = np.array(samples[name])
        index = ((rows[:, 0] - start) // step_s).astype(np.int64)
        total = np.bincount(index, weights=rows[:, 1], minlength=steps)
        count = np.bincount(index, minlength=steps)
        seen = count > 0
        filled = np.where(seen, total / np.maximum(count, 1), np.nan)
        last = np.maximum.accumulate(np.where(seen, np.arange(steps), -1))
        util[i] = np.where(last >= 0, filled[np.maximum(last, 0)], 0.0)
    util = np.clip(util, 0.0, 1.0)
    return Trace(
        tuple(names),
        util,
        float(step_s),
        source,
        np.array([mips[n] for n in names]),
        np.array([ram_mb[n] for n in names]),
        np.array([max(int(pes[n]), 1) for n in names], dtype=np.int64),
    )
