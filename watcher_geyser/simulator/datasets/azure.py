"""Azure's public VM dataset (AzurePublicDataset V1, 2017, and V2, 2019: one schema).

A folder holding ``vmtable.csv`` and one or more ``vm_cpu_readings-file-*-of-*.csv`` (each may
be gzipped), both without a header:

* ``vmtable.csv``: vm id, subscription id, deployment id, created (s), deleted (s), max CPU,
  avg CPU, p95 max CPU, category, virtual core count bucket, memory bucket (GB). Buckets are
  numbers or ``>N`` (``>24`` cores, ``>64`` GB), read as N: the size is at least that.
* ``vm_cpu_readings-*``: timestamp (s), vm id, min CPU, max CPU, avg CPU (percent of the VM's
  cores), one reading per VM every 5 minutes.

A VM's size: its cores, each of ``MIPS_PER_VCPU`` MIPS, and its memory; its use at a step: avg CPU / 100.
VMs without a ``vmtable`` row are an error (their size is unknown); ``vmtable`` rows without
readings are left out.
"""

from __future__ import annotations

import csv
from pathlib import Path

from watcher_geyser.simulator.datacenter import MIPS_PER_VCPU
from watcher_geyser.simulator.datasets.common import number, on_grid, open_text
from watcher_geyser.simulator.traces import Trace, TraceError

STEP_S = 300.0
VMTABLE_COLUMNS = 11
READING_COLUMNS = 5


def is_azure(folder: Path) -> bool:
    return folder.is_dir() and any((folder / n).is_file() for n in ("vmtable.csv", "vmtable.csv.gz"))


def read_azure(folder: str | Path) -> Trace:
    folder = Path(folder)
    table = next((folder / n for n in ("vmtable.csv", "vmtable.csv.gz") if (folder / n).is_file()), None)
    if table is None:
        raise TraceError(f"{folder}: no vmtable.csv; an Azure trace is a folder with vmtable.csv and vm_cpu_readings*")
    sizes = _vmtable(table)
    files = sorted(p for p in folder.iterdir() if p.name.startswith("vm_cpu_readings"))
    if not files:
        raise TraceError(f"{folder}: no vm_cpu_readings-file-*.csv next to vmtable.csv")
    samples: dict[str, list[tuple[float, float]]] = {}
    for path in files:
        _readings(path, sizes, samples)
    mips = {vm: sizes[vm][0] for vm in samples}
    ram = {vm: sizes[vm][1] for vm in samples}
    cores = {vm: round(sizes[vm][0] / MIPS_PER_VCPU) for vm in samples}
    return on_grid(samples, STEP_S, str(folder), mips, ram, cores)


def _bucket(text: str, path: Path, lineno: int, column: str) -> float:
    value = number(text.strip().lstrip(">"), path, lineno, column)
    if value <= 0:
        raise TraceError(f"{path}, line {lineno}: {column} must be above 0, got {text!r}")
    return value


def _vmtable(path: Path) -> dict[str, tuple[float, float]]:
    sizes = {}
    with open_text(path) as handle:
        for lineno, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) != VMTABLE_COLUMNS:
                raise TraceError(
                    f"{path}, line {lineno}: expected {VMTABLE_COLUMNS} fields (vm id, subscription, deployment, "
                    f"created, deleted, max/avg/p95 CPU, category, cores, memory GB), got {len(row)}"
                )
            cores = _bucket(row[9], path, lineno, "the core count")
            memory_gb = _bucket(row[10], path, lineno, "the memory (GB)")
            sizes[row[0].strip()] = (cores * MIPS_PER_VCPU, memory_gb * 1024.0)
    if not sizes:
        raise TraceError(f"{path}: no VMs")
    return sizes


def _readings(path: Path, sizes: dict, samples: dict[str, list[tuple[float, float]]]) -> None:
    with open_text(path) as handle:
        for lineno, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) != READING_COLUMNS:
                raise TraceError(
                    f"{path}, line {lineno}: expected {READING_COLUMNS} fields (timestamp, vm id, min, max, avg CPU), "
                    f"got {len(row)}"
                )
            vm = row[1].strip()
            if vm not in sizes:
                raise TraceError(f"{path}, line {lineno}: VM {vm!r} is not in vmtable.csv, so its size is unknown")
            avg = number(row[4], path, lineno, "avg CPU")
            if not 0 <= avg <= 100:
                raise TraceError(f"{path}, line {lineno}: avg CPU is a percentage 0..100, got {avg:g}")
            samples.setdefault(vm, []).append((number(row[0], path, lineno, "the timestamp"), avg / 100.0))
