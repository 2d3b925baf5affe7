"""Bitbrains' GWA-T-12 traces (the ``fastStorage`` and ``Rnd`` sets of the Grid Workloads Archive).

A folder of per-VM files (``1.csv``, ``2.csv``, ..; the VM's name is the file name without its
suffix), semicolon separated (each field after the first also starts with a tab), with a header:
``Timestamp [ms]; CPU cores; CPU capacity provisioned [MHZ]; CPU usage [MHZ]; CPU usage [%];
Memory capacity provisioned [KB]; Memory usage [KB]; Disk read throughput [KB/s]; Disk write
throughput [KB/s]; Network received throughput [KB/s]; Network transmitted throughput [KB/s]``.
Despite its header the timestamp is in seconds (Unix time); samples are about 5 minutes apart.

A VM's size: its cores, its provisioned CPU capacity (MHz taken as MIPS) and provisioned memory; its use:
CPU usage [MHZ] over that capacity (capped at 1). Files are put on one 5-minute grid from the
earliest sample (``common.on_grid``).
"""

from __future__ import annotations

import csv
from pathlib import Path

from watcher_geyser.simulator.datasets.common import number, on_grid, open_text
from watcher_geyser.simulator.traces import Trace, TraceError

STEP_S = 300.0
HEADER = "Timestamp [ms]"
FIELDS = 11


def is_bitbrains(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    first = next((p for p in sorted(folder.iterdir()) if p.suffix in (".csv", ".gz") and p.is_file()), None)
    if first is None:
        return False
    with open_text(first) as handle:
        return handle.readline().startswith(HEADER)


def read_bitbrains(folder: str | Path) -> Trace:
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith((".csv", ".csv.gz")))
    if not files:
        raise TraceError(f"{folder}: no per-VM .csv files (GWA-T-12 layout: 1.csv, 2.csv, ..)")
    samples, mips, ram, cores = {}, {}, {}, {}
    for path in files:
        name = path.name.removesuffix(".gz").removesuffix(".csv")
        samples[name], mips[name], ram[name], cores[name] = _vm_file(path)
    return on_grid(samples, STEP_S, str(folder), mips, ram, cores)


def _vm_file(path: Path) -> tuple[list[tuple[float, float]], float, float, int]:
    rows, capacity_mhz, memory_kb, cores = [], 0.0, 0.0, 1
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=";")
        header = next(reader, [])
        if not header or not header[0].startswith(HEADER):
            raise TraceError(f"{path}, line 1: expected the GWA-T-12 header starting {HEADER!r}, got {header[:2]}")
        for row in reader:
            lineno = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != FIELDS:
                raise TraceError(f"{path}, line {lineno}: expected {FIELDS} ';'-separated fields, got {len(row)}")
            time_s = number(row[0], path, lineno, "the timestamp")
            cores = max(cores, int(number(row[1], path, lineno, "CPU cores")))
            capacity = number(row[2], path, lineno, "CPU capacity provisioned [MHZ]")
            usage = number(row[3], path, lineno, "CPU usage [MHZ]")
            memory = number(row[5], path, lineno, "Memory capacity provisioned [KB]")
            if capacity <= 0 or usage < 0 or memory < 0:
                raise TraceError(
                    f"{path}, line {lineno}: CPU capacity must be > 0 and usage, memory >= 0, "
                    f"got {capacity:g}, {usage:g}, {memory:g}"
                )
            rows.append((time_s, min(usage / capacity, 1.0)))
            capacity_mhz, memory_kb = max(capacity_mhz, capacity), max(memory_kb, memory)
    if not rows:
        raise TraceError(f"{path}: no samples after the header")
    return rows, capacity_mhz, memory_kb / 1024.0, cores
