"""Google cluster data, the 2011 trace (``clusterdata-2011-2``): its ``task_usage`` table.

A ``task_usage`` file (``part-00000-of-00500.csv``, may be gzipped) or a folder of them; no
header; comma separated; times in microseconds; one row per task and 5-minute measurement
window. Columns used (schema v2.1): 0 start time, 1 end time, 2 job ID, 3 task index,
5 mean CPU usage rate, 6 canonical memory usage; rows must have 12 to 20 fields (the
2011-1 trace has 19, 2011-2 adds a sampled CPU column).

Google normalises CPU and memory to its largest machine, and ``task_usage`` gives no task
sizes, so a task becomes a VM as large as its own peak: its CPU at a step is its rate over
its highest rate, its size that peak times ``MACHINE_MIPS`` (1.0 = a 16-core machine of
1000 MIPS per core) and its memory its peak canonical memory times ``MACHINE_RAM_MB``
(64 GiB), over as many cores of ``MIPS_PER_VCPU`` as that takes. These two constants are
our assumption, not the trace's. A task that ran in
several windows of one step (restarts) counts with the mean of its rates; a task is idle
before it starts and holds its last rate after it ends.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from watcher_geyser.simulator.datacenter import MIPS_PER_VCPU
from watcher_geyser.simulator.datasets.common import number, on_grid, open_text
from watcher_geyser.simulator.traces import Trace, TraceError

STEP_S = 300.0
US_PER_S = 1e6
MACHINE_MIPS = 16_000.0
MACHINE_RAM_MB = 65_536.0
MIN_FIELDS, MAX_FIELDS = 12, 20


def is_google(path: Path) -> bool:
    name = path.name
    if path.is_dir():
        return path.name == "task_usage" or any(p.name.startswith("part-") for p in path.iterdir())
    return "task_usage" in str(path) or name.startswith("part-")


def read_google(path: str | Path) -> Trace:
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise TraceError(f"{path}: no task_usage files")
    rates: dict[str, list[tuple[float, float]]] = {}
    memory: dict[str, float] = {}
    for file in files:
        _task_usage(file, rates, memory)
    peaks = {task: max(r for _, r in rows) for task, rows in rates.items()}
    samples = {
        task: [(t, r / peaks[task] if peaks[task] > 0 else 0.0) for t, r in rows] for task, rows in rates.items()
    }
    mips = {task: max(peaks[task], 1e-6) * MACHINE_MIPS for task in rates}
    ram = {task: memory[task] * MACHINE_RAM_MB for task in rates}
    cores = {task: math.ceil(mips[task] / MIPS_PER_VCPU) for task in rates}
    return on_grid(samples, STEP_S, str(path), mips, ram, cores)


def _task_usage(path: Path, rates: dict, memory: dict) -> None:
    with open_text(path) as handle:
        for lineno, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if not MIN_FIELDS <= len(row) <= MAX_FIELDS:
                raise TraceError(
                    f"{path}, line {lineno}: a task_usage row has {MIN_FIELDS}..{MAX_FIELDS} fields "
                    f"(start, end, job ID, task index, machine ID, CPU rate, memory, ..), got {len(row)}"
                )
            start_us = number(row[0], path, lineno, "the start time")
            rate = number(row[5], path, lineno, "the CPU rate") if row[5].strip() else 0.0
            mem = number(row[6], path, lineno, "the canonical memory usage") if row[6].strip() else 0.0
            if rate < 0 or mem < 0:
                raise TraceError(f"{path}, line {lineno}: CPU rate and memory must be >= 0, got {row[5]}, {row[6]}")
            task = f"{row[2].strip()}-{row[3].strip()}"
            rates.setdefault(task, []).append((start_us / US_PER_S, rate))
            memory[task] = max(memory.get(task, 0.0), mem)
