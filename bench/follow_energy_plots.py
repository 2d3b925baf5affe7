"""Plots for ``follow_energy.py``: fleet power against the supply, and the signal-blind frontier."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from watcher_geyser.simulator.metrics import supply_at_midpoints

FAMILY_STYLE = {"geyser": ("tab:blue", "o"), "thr-mmt": ("tab:orange", "s"), "lr-mmt": ("tab:green", "^")}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_power(path: Path, day: str, blind, following, feed, step_s: float,
               above_kwh: tuple[float | None, float | None]) -> None:
    """Fleet power and supply over the day, the uncovered area shaded (blind, following), then hosts on.
    ``above_kwh`` is each one's energy above the supply, as the bench accounts it: a blind point read back
    from the frontier cache carries only that figure, not a replay's result."""
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True, gridspec_kw={"height_ratios": (3, 3, 2)})
    hours = np.asarray(blind.series.time_s) / 3600.0
    supply_w = supply_at_midpoints(blind.series.time_s, step_s, feed.available_w)
    panels = (("signal-blind geyser", blind, above_kwh[0]), ("geyser following the supply", following, above_kwh[1]))
    for ax, (title, r, above) in zip(axes, panels):
        t = np.asarray(r.series.time_s) / 3600.0
        power = np.asarray(r.series.power_w) / 1000.0
        supply = supply_at_midpoints(r.series.time_s, step_s, feed.available_w) / 1000.0
        ax.step(t, supply, where="pre", color="goldenrod", label="solar supply", linewidth=1.2)
        ax.step(t, power, where="pre", color="tab:blue", label="fleet power", linewidth=1.2)
        ax.fill_between(t, supply, power, where=power > supply, step="pre", color="tab:red", alpha=0.3,
                        label="above supply" + (f": {above:.1f} kWh" if above is not None else ""))
        ax.set_title(f"{day}: {title} ({r.energy_kwh:.1f} kWh, SLATAH {r.slatah:.2%})", fontsize="medium")
        ax.set_ylabel("kW")
        ax.legend(loc="upper left", fontsize="small")
    ax = axes[2]
    ax.step(hours, blind.series.hosts_on, where="pre", color="grey", label="hosts on, blind", linewidth=1)
    ax.step(np.asarray(following.series.time_s) / 3600.0, following.series.hosts_on, where="pre",
            color="tab:blue", label="hosts on, following", linewidth=1)
    both = np.concatenate([blind.series.hosts_on[3:], following.series.hosts_on[3:]]) if len(hours) > 3 else [1]
    ax.set_ylim(0, max(float(np.percentile(both, 99)) * 1.3, 1.0))  # the first steps' spread would flatten the rest
    ax.set_ylabel("hosts on")
    twin = ax.twinx()
    twin.fill_between(hours, 0, supply_w / 1000.0, step="pre", color="goldenrod", alpha=0.15)
    twin.set_ylabel("supply kW", color="goldenrod")
    ax.legend(loc="upper left", fontsize="small")
    axes[-1].set_xlabel("hours (UTC)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_frontier(path: Path, day: str, blind: dict, feeds: dict, summaries: list[dict], step_s: float,
                  uncovered) -> None:
    """One panel per supply size: blind points by family, their frontier, geyser following."""
    plt = _pyplot()
    from matplotlib.ticker import FormatStrFormatter

    fig, axes = plt.subplots(1, len(feeds), figsize=(5 * len(feeds), 4.2), squeeze=False)
    for ax, (scale, (feed, _)), summary in zip(axes[0], feeds.items(), summaries):
        for spec, r in blind.items():
            color, marker = FAMILY_STYLE.get(spec.split(":")[0], ("black", "x"))
            ax.scatter(r.slatah * 100, uncovered(r, feed, step_s), color=color, marker=marker, s=25)
            ax.annotate(spec.split(":", 1)[-1].replace(",signal=off", "").replace("signal=off", "default"),
                        (r.slatah * 100, uncovered(r, feed, step_s)), fontsize=6, alpha=0.7)
        front = summary["frontier"]
        ax.plot([x * 100 for x, _ in front], [y for _, y in front], "k--", linewidth=1, label="blind frontier")
        ax.scatter(summary["geyser_slatah"] * 100, summary["geyser_uncovered_kwh"], color="red", marker="*", s=140,
                   label="geyser following", zorder=5)
        ratio = summary["ratio_to_frontier"]
        ax.set_title(f"{day}, supply {scale:g}x: ratio {ratio:.2f}" if ratio is not None else f"supply {scale:g}x",
                     fontsize="medium")
        ax.set_xscale("log")  # SLATAH spans 1 % to 25 % across the families
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_xlabel("SLATAH (%, log scale)")
        ax.set_ylabel("energy above supply (kWh)")
        for family, (color, marker) in FAMILY_STYLE.items():
            ax.scatter([], [], color=color, marker=marker, label=f"{family} (blind)")
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
