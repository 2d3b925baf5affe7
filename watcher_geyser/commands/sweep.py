"""``geyser sweep GRID``: run a grid of ``geyser simulate`` cells on Dask into one results folder."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
examples:
  geyser sweep examples/sweep.toml --out results/sweep            # a LocalCluster, one worker per core
  geyser sweep examples/sweep.toml --out results/sweep --workers 2
  geyser sweep grid.toml --out results/big --scheduler tcp://10.0.0.5:8786   # a cluster you started:
      #   dask scheduler  (on one machine);  dask worker tcp://10.0.0.5:8786  (on each, in this package's venv)
  geyser sweep examples/sweep.toml --out results/sweep --dry-run  # list the cells and their keys

the grid (TOML): [fixed] options every cell gets and [grid] lists whose every combination is one
cell, both named as `geyser simulate` options without dashes (policy, trace, fidelity, signal,
signal-w, seed, deterministic, limit, ..); `traces` (a folder) with a `day` list names PlanetLab
days. One policy per cell. Results in --out: results.csv (one row per cell, every metric
`geyser simulate` reports), cells/<key>.json (each cell's report), energy_vs_slatah.png and
uncovered_vs_supply.png. Cells already in --out are skipped, so an interrupted sweep resumes.
With --scheduler, the workers must see the grid's trace and scenario paths.

Exit status: 0 every cell done; 1 some cells failed (each listed with its error, run again next
time); 2 a bad grid or option, checked before any cell runs.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="run a grid of simulator runs (days x policies x parameters x seeds) on a Dask cluster",
        description="Run every cell of a grid of `geyser simulate` runs on Dask (a LocalCluster, or an "
        "existing cluster) and gather one table, each cell's report and summary plots in one folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("grid", metavar="GRID", help="the grid, a TOML file (example: examples/sweep.toml)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="results folder (created; cells already in it are skipped)")
    parser.add_argument(
        "--workers", type=int, metavar="N",
        help="LocalCluster worker processes (default: one per core); not with --scheduler"
    )
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use this running Dask scheduler")
    parser.add_argument(
        "--sequential", action="store_true", help="no Dask: run the cells one after another in this process"
    )
    parser.add_argument("--dry-run", action="store_true", help="list the cells (key, done or not, options); run none")
    parser.add_argument("--no-plots", action="store_true", help="skip the summary plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from watcher_geyser.inputs import InputError, check_writable_folder
    from watcher_geyser.sweep.grid import GridError, load_grid
    from watcher_geyser.sweep.results import glance, load_done

    if args.workers is not None and args.workers < 1:
        print(f"geyser sweep: --workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 2
    if args.scheduler and (args.workers is not None or args.sequential):
        print("geyser sweep: --scheduler uses that cluster's workers; drop --workers/--sequential", file=sys.stderr)
        return 2
    try:
        cells = load_grid(args.grid, check_paths=not args.scheduler)  # a remote cluster's workers may see others
    except GridError as exc:
        print(f"geyser sweep: {exc}; no cell was run", file=sys.stderr)
        return 2
    if args.dry_run:
        done = load_done(Path(args.out), cells)
        for cell in cells:
            print(f"{cell.key}  {'done   ' if cell.key in done else 'pending'}  {cell.label()}")
        print(f"{len(cells)} cells, {len(done)} done")
        return 0
    try:  # before any cell: a sweep that cannot write its results must not run for an hour first
        check_writable_folder(args.out, "--out")
    except InputError as exc:
        print(f"geyser sweep: {exc}; no cell was run", file=sys.stderr)
        return 2
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        if not args.sequential:
            print(
                "geyser sweep: Dask is not installed; pip install 'watcher-geyser[sim]' (or use --sequential)",
                file=sys.stderr,
            )
            return 2
    from watcher_geyser.sweep.runner import run_sweep

    if args.scheduler and (problem := _bad_address(args.scheduler)):
        print(f"geyser sweep: --scheduler {args.scheduler}: {problem}; give the address `dask scheduler` prints, "
              "such as tcp://10.0.0.5:8786; no cell was run", file=sys.stderr)
        return 2
    try:
        outcome = run_sweep(
            cells,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            local=args.sequential,
            progress=not args.quiet,
            plots=not args.no_plots,
            announce=lambda message: print(message, flush=True),
        )
    except OSError as exc:  # the scheduler cannot be reached, the folder cannot be written
        fix = ""
        if args.scheduler and exc.filename is None:  # Dask's "Timed out trying to connect": a plain OSError
            fix = ("; check that `dask scheduler` runs there and its port is open, or leave --scheduler out "
                   "for a LocalCluster on this machine")
        print(f"geyser sweep: {exc}{fix}", file=sys.stderr)
        return 2
    print(glance(cells, outcome.records))
    print(
        f"{len(cells)} cells: {outcome.ran - len(outcome.failed)} computed, {outcome.skipped} already done, "
        f"{len(outcome.failed)} failed, in {outcome.wall_seconds:.1f} s"
    )
    print("wrote " + ", ".join(str(p) for p in outcome.written) + f" and {args.out}/cells/")
    return 1 if outcome.failed else 0


def _bad_address(address: str) -> str | None:
    """What is wrong with a Dask scheduler address (Dask's own parse), or None: checked before any
    cell runs, since Dask's error otherwise surfaces as an internal one."""
    try:
        from distributed.comm import parse_address
        from distributed.comm.registry import get_backend
    except ImportError:
        return None  # the missing Dask is said where it is needed
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
    except ValueError as exc:
        return str(exc)
    return None if location else "it names no host and port"
