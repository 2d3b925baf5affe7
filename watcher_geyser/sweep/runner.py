"""Running a sweep's cells: on a Dask cluster (a LocalCluster or one you started), or in-process.

Each pending cell becomes one Dask task calling ``cells.run_cell`` with the cell's command
line; answers come back to the client as they finish (progress bar), which writes each one
at once, so a sweep interrupted half-way keeps what it finished and a re-run computes only
the rest. Cells already in the folder are not submitted at all.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from watcher_geyser.sweep.cells import run_cell
from watcher_geyser.sweep.grid import Cell
from watcher_geyser.sweep.results import load_done, write_cell, write_plots, write_table


@dataclass
class SweepOutcome:
    """What a sweep did: every cell's record (by key), what it skipped, ran and lost, and where."""

    records: dict[str, dict]
    skipped: int
    ran: int
    failed: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    written: list[Path] = field(default_factory=list)
    dashboard: str | None = None


def default_workers() -> int:
    """One worker per core."""
    return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 1)


def run_sweep(
    cells: list[Cell],
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    local: bool = False,
    progress: bool = True,
    plots: bool = True,
    announce: Callable[[str], None] | None = None,
) -> SweepOutcome:
    """Compute every cell not yet in ``out`` and write the folder.

    ``scheduler`` (``tcp://HOST:PORT``) uses a running Dask cluster; otherwise a LocalCluster of
    ``workers`` processes (default one per core) is started and stopped. ``local`` runs the cells
    one after another in this process, no Dask (the reference the benchmark compares against).
    ``announce`` receives one-line messages for the user (the dashboard link).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = load_done(out, cells)
    pending = [c for c in cells if c.key not in records]
    result = SweepOutcome(records, skipped=len(records), ran=len(pending))
    say = announce or (lambda message: None)
    if records:
        say(f"{len(records)} of {len(cells)} cells already in {out}: skipped")
    bar = _bar(len(pending), progress)
    try:
        if local:
            answers = ((cell, run_cell(cell.argv())) for cell in pending)
            _collect(out, answers, result, bar)
        elif pending:
            with ExitStack() as stack:
                client = stack.enter_context(_client(workers, scheduler))
                result.dashboard = client.dashboard_link
                say(f"Dask dashboard: {result.dashboard}")
                _collect(out, _on_dask(client, pending), result, bar)
    finally:
        if bar is not None:
            bar.close()
        result.written = [write_table(out, cells, result.records)]
        if plots:
            result.written += write_plots(out, cells, result.records)
        result.wall_seconds = time.perf_counter() - started
    return result


def _collect(out: Path, answers, result: SweepOutcome, bar) -> None:
    for cell, answer in answers:
        record = write_cell(out, cell, answer)
        result.records[cell.key] = record
        if "error" in answer:
            result.failed.append(cell.key)
            print(f"geyser sweep: cell {cell.key} ({cell.label()}) failed: {answer['error']}", file=sys.stderr)
        if bar is not None:
            bar.update(1)


def _on_dask(client, pending: list[Cell]):
    """(cell, answer) pairs as the cluster finishes them."""
    from dask.distributed import as_completed

    by_future = {}
    for cell in pending:
        # the key names the cell on the dashboard; the longest cells start first, so no worker
        # is left alone with a long cell at the end while the others idle
        future = client.submit(run_cell, cell.argv(), key=f"cell-{cell.key}", priority=cost(cell))
        by_future[future] = cell
    for future in as_completed(by_future):
        cell = by_future.pop(future)
        try:
            answer = future.result()
        except Exception as exc:  # a worker died or the task could not run: the cell runs again next time
            answer = {"error": f"{type(exc).__name__}: {exc}", "detail": "", "seconds": None}
        yield cell, answer


#: rough relative cost of a cell by policy: solver-driven policies take the longest
POLICY_COST = {"geyser": 10, "watcher-vwc": 10, "lr-mmt": 3, "thr-mmt": 3}
#: How long to try reaching a --scheduler before saying it cannot be reached.
SCHEDULER_TIMEOUT_S = 30


def cost(cell: Cell) -> int:
    """A rough cost for ordering (not for any result): by policy name, 1 for the cheap ones."""
    return POLICY_COST.get(str(cell.params.get("policy", "")).split(":", 1)[0], 1)


def _client(workers: int | None, scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
    cluster = LocalCluster(
        n_workers=workers or default_workers(),
        threads_per_worker=1,  # a cell is single-threaded Python and numpy: one per process
        processes=True,
        dashboard_address="127.0.0.1:0",  # any free port: several sweeps may share a machine
        host="127.0.0.1",
    )
    return _OwnedClient(Client(cluster), cluster)


class _OwnedClient:
    """A client that closes its LocalCluster with it."""

    def __init__(self, client, cluster) -> None:
        self.client, self.cluster = client, cluster

    def __enter__(self):
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.cluster.close()


def _bar(total: int, progress: bool):
    if not progress or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="cells", unit="cell", file=sys.stderr)
