"""Reports of simulator runs: a text table, ``report.json``, ``steps.csv`` and PNG plots.

``report.json`` holds, per policy, the summary figures (energy, its lower bound, migrations,
SLATAH, PDM, SLAV, ESV, energy above the signal and the share covered, power cycles per host per
day, deferred VM-hours and deadline misses, step times, wall time..) and the per-step series.
SLATAH is split by cause (``slatah_overload``, ``slatah_core_cap``, ``slatah_migration``: shares of
active host time that sum to ``slatah``); the table shows each as a percent of SLATAH.
The table shows the deferral columns only when some run deferred work. Its ``switch-offs`` are the
hosts' on -> off transitions, the count ``cycles/host/day`` is made of; ``report.json``'s
``host_shutdowns`` is CloudSim's count, kept to compare with CloudSim's reference outputs, which also
counts every host idle at its first record (CloudSim starts each host "active"): a host never on is
one shutdown there and no switch-off here (``metrics``).
``steps.csv`` has one row per (policy, step), its columns ``metrics.StepSeries``'s (a row whose
``decided`` is 0 is a decision skipped while the last plan ran: measured state only), then the
policy's tail row when migrations ran past its last decision (``RunResult.tail``): the rows'
energy (``power_w`` x ``interval_s``) and SLA host time sum to the run's totals, and
``report.json``'s series holds the same rows. ``passes_won`` counts the ``found_by`` column. The plots
(matplotlib, Agg backend) compare policies: fleet power against available power, hosts on against
the lower bound, migrations per step, and SLA-violating hosts per step.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from watcher_geyser.simulator.result import RunResult

TABLE_COLUMNS = (
    ("policy", "policy", "{}"),
    ("energy_kwh", "energy kWh", "{:.2f}"),
    ("energy_lower_bound_kwh", "bound kWh", "{:.2f}"),
    ("migrations", "migrations", "{}"),
    ("slatah", "SLATAH", "{:.5f}"),
    ("slatah_split", "SLATAH ovl/cap/migr %", "{}"),
    ("pdm", "PDM", "{:.6f}"),
    ("slav", "SLAV", "{:.3e}"),
    ("esv", "ESV", "{:.3e}"),
    ("host_power_offs", "switch-offs", "{}"),
    ("host_power_cycles_max", "cycles/host/day", "{:.1f}"),
    ("step_seconds_mean", "step s (mean)", "{:.4f}"),
    ("wall_seconds", "wall s", "{:.1f}"),
)

DEFERRAL_COLUMNS = [
    ("deferred_vm_hours", "deferred VM-h", "{:.1f}"),
    ("deadline_misses", "deadline misses", "{}"),
]


def table(results: list[RunResult]) -> str:
    """A plain-text side-by-side table of the runs."""
    columns = list(TABLE_COLUMNS)
    if any(r.energy_above_signal_kwh is not None for r in results):
        # with a watts signal: how much energy the supply did not cover
        columns[2:2] = [
            ("energy_above_signal_kwh", "above supply kWh", "{:.2f}"),
            ("energy_covered_share", "covered", "{:.1%}"),
        ]
    if any(r.deferred_vm_hours or r.deadline_misses for r in results):
        columns[-2:-2] = DEFERRAL_COLUMNS
    rows = [[head for _, head, _ in columns]]
    for r in results:
        s = r.summary()
        s["slatah_split"] = slatah_split(s)
        rows.append([fmt.format(s[key]) if s.get(key) is not None else "-" for key, _, fmt in columns])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def slatah_split(figures: dict) -> str | None:
    """SLATAH's causes as whole percents of it, overload/core cap/migration (``state.SlaCause``), e.g.
    ``"12/0/88"``; None without any violation. ``figures``: a run's summary or a window's ``as_dict()``."""
    if not figures["slatah"]:
        return None
    parts = (figures["slatah_overload"], figures["slatah_core_cap"], figures["slatah_migration"])
    return "/".join(f"{100 * part / figures['slatah']:.0f}" for part in parts)


def report_dict(results: list[RunResult], meta: dict | None = None) -> dict:
    return {
        "meta": meta or {},
        "policies": {r.policy: {**r.summary(), "series": r.rows().as_dict()} for r in results},
    }


def write_report(
    results: list[RunResult], out_dir: str | Path, meta: dict | None = None, plots: bool = True
) -> list[Path]:
    """Write report.json, steps.csv and (unless ``plots`` is False) the PNG plots; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "report.json"
    path.write_text(json.dumps(report_dict(results, meta), indent=1))
    written.append(path)
    path = out / "steps.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        keys = list(results[0].series.as_dict()) if results else []
        writer.writerow(["policy", "step", *keys])
        for r in results:
            series = r.rows().as_dict()
            for i in range(len(series["time_s"])):
                writer.writerow([r.policy, i + 1, *(series[k][i] for k in keys)])
    written.append(path)
    if plots and results:
        written.extend(_plots(results, out))
    return written


def _plots(results: list[RunResult], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    specs = (
        ("power.png", "Fleet power", "W", "power_w", "available_w"),
        ("hosts.png", "Hosts on", "hosts", "hosts_on", "hosts_lower_bound"),
        ("migrations.png", "Migrations per step", "migrations", "migrations", None),
        ("overload.png", "SLA-violating hosts per step", "hosts", "sla_violating_hosts", None),
    )
    for filename, title, unit, key, reference in specs:
        fig, ax = plt.subplots(figsize=(9, 4))
        for r in results:
            hours = [t / 3600 for t in r.series.time_s]
            ax.plot(hours, getattr(r.series, key), label=r.policy, linewidth=1)
        if reference:
            r = results[0]
            values = getattr(r.series, reference)
            if any(v is not None for v in values):
                hours = [t / 3600 for t in r.series.time_s]
                label = "available power" if reference == "available_w" else "lower bound"
                ax.plot(hours, [v if v is not None else float("nan") for v in values], "k--", label=label, linewidth=1)
        ax.set_title(title)
        ax.set_xlabel("hours")
        ax.set_ylabel(unit)
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        path = out / filename
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
