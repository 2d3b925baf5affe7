"""A sweep's folder: each cell's report, the table of all cells, the summary plots.

    DIR/cells/<key>.json        one per cell: its options, its command, its report (as report.json)
    DIR/results.csv             one row per cell: key, status, the cell's options, every summary metric
    DIR/energy_vs_slatah.png    energy against SLATAH, one colour per policy
    DIR/uncovered_vs_supply.png energy drawn above the supply against the supply's size, per policy

A cell whose file exists is done: a re-run skips it (the file name is the hash of its options),
unless it was computed with another ``--plans`` than the cell now gets (``realistic``'s default
became ``run-to-end``, which the options do not show): then it runs again. A failed cell leaves no
file (it runs again next time) and shows in the table with its error.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from watcher_geyser.commands.simulate import parse
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.sweep.grid import Cell

TABLE = "results.csv"


def cell_path(out: Path, cell: Cell) -> Path:
    return out / "cells" / f"{cell.key}.json"


def load_done(out: Path, cells: list[Cell]) -> dict[str, dict]:
    """Records of the cells already computed in ``out`` (unreadable files count as not done)."""
    done = {}
    for cell in cells:
        path = cell_path(out, cell)
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if "summary" in record and _plans(record) == _plans_now(cell):
            done[cell.key] = record
    return done


def _plans(record: dict) -> str:
    """The ``--plans`` a cell's record was computed with (``drop`` before the report named it: the
    engine knew no other)."""
    return record.get("report", {}).get("meta", {}).get("plans", "drop")


def _plans_now(cell: Cell) -> str:
    """The ``--plans`` the cell runs with now: its own, or its fidelity's default."""
    args = parse(cell.argv())
    return fidelity(args.fidelity, args.plans).plans


def write_cell(out: Path, cell: Cell, answer: dict) -> dict:
    """Keep a cell's answer: its file when it succeeded; the record either way."""
    record = {"key": cell.key, "cell": cell.params, "command": ["geyser", "simulate", *cell.argv()], **answer}
    if "error" not in answer:
        path = cell_path(out, cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(path)  # a sweep stopped half-way never leaves half a file that counts as done
    return record


def write_table(out: Path, cells: list[Cell], records: dict[str, dict]) -> Path:
    """``results.csv``: one row per cell of the grid, in grid order."""
    option_keys = list(dict.fromkeys(k for cell in cells for k in cell.params))
    metric_keys = list(dict.fromkeys(k for r in records.values() for k in r.get("summary", {})))
    metric_keys = [k for k in metric_keys if k not in option_keys]
    path = out / TABLE
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "status", *option_keys, *metric_keys, "cell_seconds", "error"])
        for cell in cells:
            record = records.get(cell.key, {})
            summary = record.get("summary", {})
            status = "error" if "error" in record else ("done" if summary else "missing")
            writer.writerow(
                [
                    cell.key,
                    status,
                    *(cell.params.get(k, "") for k in option_keys),
                    *(_text(summary.get(k)) for k in metric_keys),
                    _text(record.get("seconds")),
                    record.get("error", ""),
                ]
            )
    return path


#: (summary key, heading, format) of the glance table printed after a sweep; results.csv holds every figure.
GLANCE = (
    ("energy_kwh", "energy kWh", "{:.2f}"),
    ("energy_above_signal_kwh", "above supply kWh", "{:.2f}"),
    ("slatah", "SLATAH", "{:.5f}"),
    ("migrations", "migrations", "{:.0f}"),
)


def glance(cells: list[Cell], records: dict[str, dict], max_rows: int = 20) -> str:
    """The cells' headline figures as a text table, in grid order (the first ``max_rows``), each cell
    named by the options that vary: what a person looks at before opening results.csv or the plots."""
    varying = {k for k in {k for c in cells for k in c.params} if len({str(c.params.get(k)) for c in cells}) > 1}
    rows = [("cell", *(head for _, head, _ in GLANCE))]
    for cell in cells[:max_rows]:
        name = " ".join(f"{k}={v}" for k, v in cell.options if k in varying) or cell.label()
        record = records.get(cell.key, {})
        summary = record.get("summary", {})
        if not summary:
            rows.append((name, "error" if "error" in record else "missing", *("",) * (len(GLANCE) - 1)))
            continue
        rows.append((name, *(fmt.format(summary[k]) if summary.get(k) is not None else "-"
                                     for k, _, fmt in GLANCE)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    if len(cells) > max_rows:
        lines.append(f"... {len(cells) - max_rows} more cell(s) in {TABLE}")
    return "\n".join(lines)


def _text(value) -> str:
    return "" if value is None else str(value)


def supply_w(params: dict) -> float | None:
    """The size of a cell's supply in watts: ``signal-w``, or a ``peak_w=`` / ``constant:..W`` signal."""
    if params.get("signal-w") is not None:
        return float(params["signal-w"])
    spec = str(params.get("signal") or "")
    match = re.search(r"peak_w=([0-9.]+)", spec) or re.fullmatch(r"constant:([0-9.]+)W", spec)
    if match:
        return float(match.group(1))
    match = re.fullmatch(r"constant:([0-9.]+)kW", spec)
    return float(match.group(1)) * 1000 if match else None


def write_plots(out: Path, cells: list[Cell], records: dict[str, dict]) -> list[Path]:
    """The two summary plots, from the cells that succeeded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(cell.params, records[cell.key]["summary"]) for cell in cells if "summary" in records.get(cell.key, {})]
    if not rows:
        return []
    policies = sorted({str(params["policy"]) for params, _ in rows})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for policy in policies:
        points = [(s["slatah"], s["energy_kwh"]) for params, s in rows if params["policy"] == policy]
        ax.scatter([p[0] for p in points], [p[1] for p in points], label=policy, s=24)
    paths = [
        _finish(fig, ax, out / "energy_vs_slatah.png", "Energy against SLA per policy (one point per cell)",
                "SLATAH (share of active host time overloaded)", "energy (kWh)")
    ]
    supplied = [(supply_w(p), p, s) for p, s in rows if s.get("energy_above_signal_kwh") is not None]
    supplied = [(w, p, s) for w, p, s in supplied if w is not None]
    if supplied:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for policy in policies:
            by_supply: dict[float, list[float]] = {}
            for w, p, s in supplied:
                if p["policy"] == policy:
                    by_supply.setdefault(w, []).append(s["energy_above_signal_kwh"])
            if by_supply:  # the mean over the cells of one supply size (days, seeds, ..)
                sizes = sorted(by_supply)
                means = [sum(by_supply[w]) / len(by_supply[w]) for w in sizes]
                ax.plot([w / 1000 for w in sizes], means, "o-", label=policy, markersize=4)
        paths.append(
            _finish(fig, ax, out / "uncovered_vs_supply.png", "Uncovered energy against supply size",
                    "supply size (kW: signal-w, or the solar signal's peak_w)",
                    "energy drawn above the supply (kWh, mean over cells)")
        )
    return paths


def _finish(fig, ax, path: Path, title: str, xlabel: str, ylabel: str) -> Path:
    import matplotlib.pyplot as plt

    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
