"""CP-SAT solver settings shared by the models: parameters as data, a dump on request.

Set ``GEYSER_CPSAT_DUMP=DIR`` to write every model solved to DIR as text protobuf, so a
hard case seen in production can be reproduced offline.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from ortools.sat.python import cp_model

from watcher_geyser.solver.clock import WORK_UNITS_PER_SECOND

_counter = itertools.count()

# Integer units per resource in every CP-SAT model (limits.LIMIT_RESOURCES order):
# centi-vcpus, MB, GB, milli-cores of measured CPU. Each model rounds in its own safe direction.
UNITS = (100, 1, 1, 1000)


def make_solver(
    time_limit_s: float, seed: int = 0, workers: int = 2, deterministic: bool = False, **parameters: object
) -> cp_model.CpSolver:
    """A CP-SAT solver limited to ``time_limit_s``; ``deterministic`` swaps the time limit for
    a work limit on one worker (see ``solver/clock.py``), so the same model gives the same answer."""
    solver = cp_model.CpSolver()
    solver.parameters.random_seed = seed
    if deterministic:
        solver.parameters.num_workers = 1
        solver.parameters.max_deterministic_time = max(time_limit_s, 0.05) * WORK_UNITS_PER_SECOND
    else:
        solver.parameters.max_time_in_seconds = max(time_limit_s, 0.05)
        solver.parameters.num_workers = max(workers, 1)
    for name, value in parameters.items():
        setattr(solver.parameters, name, value)
    return solver


def dump_model(model: cp_model.CpModel, name: str) -> Path | None:
    """Write ``model`` to $GEYSER_CPSAT_DUMP when set; returns the file written."""
    folder = os.environ.get("GEYSER_CPSAT_DUMP")
    if not folder:
        return None
    path = Path(folder) / f"{name}-{os.getpid()}-{next(_counter)}.pb.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.export_to_file(str(path))
    return path
