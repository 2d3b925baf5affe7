"""A sweep grid in TOML: which ``geyser simulate`` runs (cells) a sweep makes.

    [fixed]                      # options every cell gets (``geyser simulate`` names, no dashes)
    fidelity = "cloudsim"
    deterministic = true

    [grid]                       # every combination of these lists is one cell
    policy = ["geyser", "thr-mmt"]
    signal-w = [3000, 6000]
    seed = [0, 1]

``[[grid]]`` (an array of tables) gives several grids whose cells are pooled, e.g. one per
policy when only some policies take a parameter. Two sweep-level keys name traces by day:
``traces`` (a folder, fixed) and ``day`` (folder names under it, usually an axis) become
``trace = traces/day``. Relative paths are taken from the TOML file's folder. A ``true``
value is a flag (``--deterministic``), ``false`` leaves it out; every other value is passed
as text. Each cell runs exactly one policy, so the results table has one row per cell.

Every key and every cell is checked against ``geyser simulate``'s own parser and checks (policies
and their parameters, times, signal specs, and, unless the cells run on a remote cluster, that
paths exist) before anything runs; a bad one is a ``GridError`` naming the file, the key and the fix.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from watcher_geyser.commands import simulate
from watcher_geyser.inputs import did_you_mean

#: options the sweep owns: each cell's output goes to the sweep's folder, silently
RESERVED = frozenset({"out", "quiet", "no-plots"})
#: options holding paths, taken relative to the grid file
PATH_KEYS = frozenset({"trace", "scenario", "traces"})
SWEEP_KEYS = frozenset({"traces", "day"})


class GridError(ValueError):
    """A grid that cannot run; the message names the file and the key."""


@dataclass(frozen=True)
class Cell:
    """One ``geyser simulate`` run: its options, in the order the grid gave them."""

    options: tuple[tuple[str, object], ...]

    @property
    def params(self) -> dict[str, object]:
        return dict(self.options)

    @property
    def key(self) -> str:
        """A stable name for the cell's results: the hash of its options (order-free)."""
        text = json.dumps(sorted(self.options), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def argv(self) -> list[str]:
        """The cell as ``geyser simulate`` arguments."""
        argv: list[str] = []
        for name, value in self.options:
            if value is True:
                argv.append(f"--{name}")
            elif value is not False and value is not None:
                argv += [f"--{name}", str(value)]
        return argv

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.options if k != "trace") or "defaults"


def option_names(switches: bool = False) -> set[str]:
    """Every ``geyser simulate`` long option, without its dashes (``switches``: only those taking no
    value, such as ``deterministic``, which a grid gives as true or false)."""
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    simulate.add_arguments(parser)
    return {s[2:] for action in parser._actions for s in action.option_strings if s.startswith("--")
            and (not switches or isinstance(action, argparse._StoreTrueAction))}


@functools.cache
def _switches() -> frozenset[str]:
    return frozenset(option_names(switches=True))


def load_grid(path: str | Path, check_paths: bool = True) -> list[Cell]:
    """The cells of the grid file at ``path``, checked (``check_paths``: trace and scenario paths
    exist here); raises ``GridError``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise GridError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{path}: not valid TOML: {exc}") from None
    return cells_from_dict(data, path, check_paths)


def cells_from_dict(data: dict, path: Path, check_paths: bool = True) -> list[Cell]:
    unknown = set(data) - {"fixed", "grid"}
    if unknown:
        raise GridError(f"{path}: unknown table(s) {sorted(unknown)}; a grid has [fixed] and [grid] (or [[grid]])")
    fixed = data.get("fixed", {})
    grids = data.get("grid", [{}])
    grids = [grids] if isinstance(grids, dict) else grids
    if not isinstance(fixed, dict) or not all(isinstance(g, dict) for g in grids):
        raise GridError(f"{path}: [fixed] and [grid] must be tables of options")
    names = option_names() | SWEEP_KEYS
    cells: dict[str, Cell] = {}
    for grid in grids:
        for key in [*fixed, *grid]:
            if key in RESERVED:
                raise GridError(f"{path}: {key!r} is set by `geyser sweep` itself; remove it from the grid")
            if key not in names:
                usable = names - RESERVED
                raise GridError(f"{path}: {key!r} is not a `geyser simulate` option; {did_you_mean(key, usable)}"
                                f"use one of {', '.join(sorted(usable))}")
        axes = {k: (v if isinstance(v, list) else [v]) for k, v in grid.items()}
        for key, values in axes.items():
            if not values:
                raise GridError(f"{path}: [grid] {key!r} is an empty list; give at least one value")
        for combo in itertools.product(*axes.values()):
            options = {**fixed, **dict(zip(axes, combo))}
            cell = _cell(options, path)
            cells.setdefault(cell.key, cell)
    if not cells:
        raise GridError(f"{path}: the grid has no cells")
    for cell in cells.values():
        if not isinstance(cell.params.get("policy"), str):
            raise GridError(
                f"{path}: cell {cell.label()}: give each cell one 'policy' (a list of them under [grid]), "
                "so the table has one row per cell"
            )
        try:
            simulate.check(simulate.parse(cell.argv()), paths=check_paths)
        except simulate.SimulateError as exc:
            raise GridError(f"{path}: cell {cell.label()}: {exc}") from None
    return list(cells.values())


def _cell(options: dict, path: Path) -> Cell:
    base = path.resolve().parent
    resolved: dict[str, object] = {}
    for key, value in options.items():
        if isinstance(value, (list, dict)):
            raise GridError(f"{path}: {key!r} in [fixed] must be one value; put lists under [grid]")
        if key in _switches() and not isinstance(value, bool):  # "yes" became a stray argument to simulate
            raise GridError(f"{path}: {key!r} is a switch: write {key} = true or false, got {value!r}")
        if key in PATH_KEYS and isinstance(value, str):
            value = str((base / value).resolve())
        resolved[key] = value
    traces, day = resolved.pop("traces", None), resolved.pop("day", None)
    if day is not None:
        if traces is None:
            raise GridError(f"{path}: 'day' needs 'traces', the folder holding the days")
        if "trace" in resolved:
            raise GridError(f"{path}: give either 'trace' or 'traces' with 'day', not both")
        resolved = {"trace": str(Path(str(traces)) / str(day)), **resolved}
    return Cell(tuple(resolved.items()))
