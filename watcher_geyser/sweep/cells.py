"""Running one cell: the function every Dask worker calls (and the sequential path too).

It goes through ``geyser simulate``'s own ``simulate_argv``, so a cell computes exactly what
the command line would, and returns plain data (no files): a remote worker need not share a
folder with the client, which writes everything.
"""

from __future__ import annotations

import time
import traceback

from watcher_geyser.commands.simulate import SimulateError, simulate_argv
from watcher_geyser.simulator.report import report_dict


def run_cell(argv: list[str]) -> dict:
    """``{"report", "summary", "seconds", "cpu_seconds"}`` or ``{"error": one line, "detail": ..}``.

    ``cpu_seconds`` is the CPU time the cell's process got: on a shared machine, wall time over
    CPU time says how much of a core the cell had."""
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        outcome = simulate_argv(argv)
    except SimulateError as exc:
        return {"error": str(exc), "detail": "", "seconds": time.perf_counter() - started}
    except Exception as exc:  # a bug in one cell must not lose the others' results
        return {
            "error": f"{type(exc).__name__}: {exc}",
            "detail": traceback.format_exc(),
            "seconds": time.perf_counter() - started,
        }
    report = report_dict(outcome.results, outcome.meta)
    (summary,) = [{k: v for k, v in p.items() if k != "series"} for p in report["policies"].values()]
    return {
        "report": report,
        "summary": summary,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
    }
