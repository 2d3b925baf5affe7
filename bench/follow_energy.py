"""Does the fleet follow the energy? geyser following a solar supply against the signal-blind frontier.

    python bench/follow_energy.py                      # every bundled PlanetLab day (800 hosts, cloudsim fidelity)
    python bench/follow_energy.py --days 1             # the first day only
    python bench/follow_energy.py --quick              # the bundled 100-VM sample, fewer points: a fast check

For each day:

1. the signal-blind frontier: geyser without a signal (``signal=off``) at ceilings 0.7 to 1.0,
   thr-mmt and lr-mmt at several thresholds, each replayed once;
2. a clear-sky solar supply (``watcher_geyser.signal.solar``, the day's own date, at ``--lat``,
   ``--lon``) sized so that its energy over the day equals that of blind geyser at its default
   settings, and 0.5x and 2x that;
3. per supply: every blind point's energy above the supply (from its per-step power, as the
   simulator accounts it), the frontier of uncovered energy against SLATAH, and geyser following
   the supply, with 0 % and 30 % deferrable VMs (``simulator.deferral``, deadline 24 h). Deferred
   work may finish after the day, under a next day's supply no other work claims. The headline
   (``deferrable_uncovered_kwh``) is the steady state: the day replayed twice back to back
   (``geyser simulate --repeat-day 2``, the same sun both days), each day with its own VMs, and its
   second day's window, where yesterday's spill meets today's work, against the blind points'
   second days (``follow_steady``); beside it the replay of one day folded onto itself
   (``..._folded_kwh``) and as replayed (``..._as_replayed_kwh``) against the single-day frontier;
4. ``--datacenter three-gen``: the same measurement on a fleet the engine was not tuned on (three
   host generations with different cores and power curves, two VMs per host where PlanetLab has
   1.3; ``--vms-per-host`` varies the depth). The team reports the worst family, not the best.

Measuring is slow (a geyser day is a minute or more, a deferrable one two or three): with
``--frontier-cache DIR`` the blind points of each day are written to ``DIR/<day>.json``
(``DIR/<day>-<data centre>-<hosts>h.json`` for a data centre other than planetlab) the first time and read
back afterwards (delete the file when the blind policies change; one made under other simulator solve
settings, such as the time limit, is replayed and rewritten by itself: ``follow_frontier.solve_key``), and
``--deferrable-only`` skips geyser following the supply with a fixed workload, so a change to
deferral can be measured with one replay per day and supply (``--fixed-only`` the other way round).
The cache is reused point by point (``follow_frontier``): it keeps every blind point's per-step power
and hosts on, so a new supply size, the correlation and the power plot need no replay, and a run
that asks for other points or sizes adds its rows without dropping any.

Prints one JSON line per point (``"kind": "point"``, SLATAH with its split by cause:
``slatah_overload``, ``slatah_core_cap``, ``slatah_migration``), one summary line per day and supply
(``"kind": "summary"``: geyser's uncovered energy / the frontier's at geyser's SLATAH, or why that
ratio means nothing there; the same ratio for the energy lower bound's draw, the floor no fixed
workload served in full gets under, so a missed target can be told from an unreachable one; the
correlation of the supply with hosts on following minus hosts on blind, and the issue's
targets met or not) and a last line over all days. Plots land in ``--out``
(``results/follow_energy/``): fleet power against the supply, uncovered area shaded, blind
and following; the frontier per supply. Runs are sequential; the machine's load shows in
``wall_seconds``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from follow_energy_plots import plot_frontier, plot_power  # noqa: E402
from follow_frontier import CachedRun, blind_points, uncovered_kwh  # noqa: E402
from follow_steady import STEADY_DAYS, steady_blind, steady_front  # noqa: E402
from follow_summary import DEFERRABLE_SHARE, folded_uncovered_kwh, overall_met, ratio_to_frontier, summarise  # noqa: E402
from planetlab import default_traces  # noqa: E402

from watcher_geyser import defaults  # noqa: E402
from watcher_geyser.commands.simulate import bundled_sample  # noqa: E402
from watcher_geyser.inputs import InputError, cli_number, epoch_s  # noqa: E402
from watcher_geyser.signal.series import Series, Unit  # noqa: E402
from watcher_geyser.signal.solar import SolarSite, solar_series, solar_watts  # noqa: E402
from watcher_geyser.simulator.baselines import make_policy  # noqa: E402
from watcher_geyser.simulator.datacenter import PRESETS, three_gen, with_vm_sizes  # noqa: E402
from watcher_geyser.simulator.deferral import DEFAULT_DEFERRAL_SEED, DEFERRAL_CHOICES, choose_deferrable, vm_work  # noqa: E402
from watcher_geyser.simulator.engine import simulate  # noqa: E402
from watcher_geyser.simulator.fidelity import CLOUDSIM  # noqa: E402
from watcher_geyser.simulator.frontier import pareto_front  # noqa: E402
from watcher_geyser.simulator.geyser_policy import GeyserPolicy, SignalFeed  # noqa: E402
from watcher_geyser.simulator.metrics import supply_at_midpoints  # noqa: E402
from watcher_geyser.simulator.traces import read_planetlab  # noqa: E402

BLIND_REFERENCE = "geyser:signal=off"  # blind geyser at its own defaults: sizes the supply
THR_REFERENCE = "thr-mmt:threshold=0.8"  # CloudSim's thr-mmt, for the SLATAH and migrations targets
#: Blind geyser at what following asks when the supply is fully scarce (the tight ceiling with each
#: host's own margin under it, and the shorter scarce look-back). Without it, following a small
#: supply (0.5x) packs past every blind point's SLATAH and is read against the frontier's rightmost
#: point, which flatters it.
BLIND_TIGHTEST = (f"geyser:ceiling={defaults.TIGHT_CPU_CEILING:g},margin_k={defaults.HOST_MARGIN_K:g},"
                  f"forecast_window={GeyserPolicy.scarce_forecast_window},signal=off")
#: The start of a day whose folder is not named YYYYMMDD: the first PlanetLab day.
FALLBACK_DAY = "2011-03-03T00:00:00Z"
FULL_FRONTIER = (
    *(f"geyser:ceiling={c},signal=off" for c in (0.7, 0.8, 0.9, 1.0)),
    BLIND_TIGHTEST,
    *(f"thr-mmt:threshold={t}" for t in (0.6, 0.7, 0.8, 0.9, 1.0)),
    *(f"lr-mmt:safety={s}" for s in (1.0, 1.1, 1.2, 1.3, 1.4)),
)
SMALL_FRONTIER = (
    *(f"geyser:ceiling={c},signal=off" for c in (0.7, 0.9, 1.0)),
    BLIND_TIGHTEST,
    *(f"thr-mmt:threshold={t}" for t in (0.7, 0.8, 0.9)),
    "lr-mmt",
)
FRONTIERS = {"full": FULL_FRONTIER, "small": SMALL_FRONTIER, "none": ()}
SCALES = (0.5, 1.0, 2.0)



#: ``--datacenter`` families: the one the engine was shaped on, and one it was not.
DATACENTERS = ("planetlab", "three-gen")


@dataclass
class Day:
    name: str
    trace: object
    dc: object
    start_s: float

    @property
    def cache_name(self) -> str:
        """The day's ``--frontier-cache`` file: one per day and data centre (planetlab keeps ``<day>.json``);
        other families name their host count too, which ``--vms-per-host`` changes, so a deeper three-gen
        fleet never reads the blind points of a shallower one."""
        family = self.dc.name
        return f"{self.name}.json" if family.startswith("planetlab") else f"{self.name}-{family}-{self.dc.hosts}h.json"


def load_day(path: Path, preset: str, start: str | None, vms_per_host: float | None = None) -> Day:
    trace = read_planetlab(path)
    dc = three_gen(trace.names, vms_per_host) if vms_per_host is not None else PRESETS[preset](trace.names)
    dc = with_vm_sizes(dc, trace.vm_mips, trace.vm_ram_mb)
    return Day(path.name, trace, dc, _start_s(path.name, start))


def _start_s(day: str, start: str | None) -> float:
    """Midnight UTC of the day the folder is named after (YYYYMMDD), unless ``--start`` says otherwise."""
    if start:
        return epoch_s(start, "--start")
    try:
        return epoch_s(f"{day[:4]}-{day[4:6]}-{day[6:]}T00:00:00Z", f"the day named {day}")
    except InputError:
        return epoch_s(FALLBACK_DAY, "the fallback day")


def run_days(days: int = 1, deferrable: float = 0.0) -> int:
    """Days of steps the progress bar plans for one replay of ``days`` days: one more with deferrable
    VMs, whose deferred work may run on up to its deadline (24 h) past the last day."""
    return days + (1 if deferrable else 0)


def planned_days(blind: int, scales: int, seeds: int, deferrable_only: bool = False, fixed_only: bool = False) -> int:
    """Days of steps ``bench_day`` plans for one day (``run_days`` summed over its replays, cached or
    not): ``blind`` points once and, unless ``fixed_only``, over ``STEADY_DAYS``; per supply size,
    geyser following it with a fixed workload (unless ``deferrable_only``) and, unless ``fixed_only``,
    with 30 % deferrable VMs once over one day and once per seed over ``STEADY_DAYS``."""
    steady = not fixed_only
    blind_days = blind * (run_days() + (run_days(STEADY_DAYS) if steady else 0))
    following = (0 if deferrable_only else run_days())
    if steady:
        following += run_days(1, DEFERRABLE_SHARE) + seeds * run_days(STEADY_DAYS, DEFERRABLE_SHARE)
    return blind_days + scales * following


class Runner:
    """Sequential replays of one day with one shared tqdm bar.

    The bar is honest: each replay advances it by exactly what ``run_days`` planned for it (a
    deferrable one that ends before its spill day is topped up when it ends), and a blind point read
    from the cache is credited in full when it is read (``cached``), so the bar ends at 100 %
    whatever the cache held."""

    def __init__(self, day: Day, bar, deterministic: bool = True, choice: str = "vms") -> None:
        self.day, self.bar, self.deterministic, self.choice = day, bar, deterministic, choice

    def steps(self, days: int = 1, deferrable: float = 0.0) -> int:
        """The bar's units (decision steps) planned for one replay."""
        return run_days(days, deferrable) * (self.day.trace.samples - 1)

    def cached(self, spec: str, days: int = 1) -> None:
        """Credit blind point ``spec`` (replayed over ``days``) read from the cache instead of replayed."""
        self.bar.set_description(f"{self.day.name} {spec}"[:48])
        self.bar.set_postfix_str("cached")
        self.bar.update(self.steps(days))

    def run(self, spec: str, feed: SignalFeed | None = None, deferrable: float = 0.0, days: int = 1,
            deferral_seed: int = DEFAULT_DEFERRAL_SEED):
        policy = make_policy(spec)
        if self.deterministic and hasattr(policy, "settings"):  # geyser: blind and following differ only by the signal
            policy.settings = policy.settings.with_solve(deterministic=True)
        if feed is not None:
            policy.signal = feed
        self.bar.set_description(f"{self.day.name} {spec}"[:48])
        self.bar.set_postfix_str("")
        kwargs = {}
        if deferrable:
            kwargs["deferral"] = choose_deferrable(self.choice, day_work(self.day), deferrable, seed=deferral_seed)
        supply = feed.available_w if feed is not None else None
        planned, advanced = self.steps(days, deferrable), 0

        def step(n: int) -> None:  # the engine's steps, never past the replay's plan
            nonlocal advanced
            n = min(n, planned - advanced)
            if n > 0:
                self.bar.update(n)
                advanced += n

        result = simulate(self.day.trace, self.day.dc, policy, CLOUDSIM, supply, step, repeat_days=days, **kwargs)
        self.bar.update(planned - advanced)  # the spill day a deferrable replay did not need
        return result


def day_work(day: Day) -> np.ndarray:
    """float64[V]: each VM's CPU work over the day (MIPS x time, before any deferral)."""
    return vm_work(day.trace.util, day.dc.vm_mips)


def deferrable_work_share(day: Day, seed: int, choice: str = "vms") -> float:
    """The share of the day's CPU work (MIPS x time, before any deferral) that the VMs ``seed`` makes
    deferrable carry. 30 % of the VMs is not 30 % of the work: on 20110309 seed 2 picks VMs with 22.6 %
    of it (ratio 0.715) where seeds 0 and 1 pick 31.9 and 32.2 % (0.631, 0.639). ``choice`` ``work``
    (``DeferralSetup.stratified``) keeps it near 30 %."""
    work = day_work(day)
    chosen = choose_deferrable(choice, work, DEFERRABLE_SHARE, seed=seed).deferrable
    return float(work[chosen].sum() / work.sum()) if work.sum() > 0 else 0.0


def worst_seed(by_seed: dict) -> object:
    """The steady run of the seeded choice with the highest ratio (a ratio that means nothing there
    counts as the worst: it is the one to look at)."""
    return max(by_seed.values(), key=lambda pair: float("inf") if pair[1] is None else pair[1])[0]


def seed_figures(by_seed: dict, headline) -> dict:
    """The steady deferrable ratio per seeded choice of the deferrable VMs, their mean, which seed is the
    headline (the worst), and deadline misses summed over every choice."""
    ratios = {str(seed): ratio for seed, (_, ratio) in by_seed.items()}
    known = [r for r in ratios.values() if r is not None]
    return {"deferrable_ratio_by_seed": ratios,
            "deferrable_ratio_seed_mean": float(np.mean(known)) if known else None,
            "deferrable_headline_seed": next(int(seed) for seed, (run, _) in by_seed.items() if run is headline),
            "deadline_misses_every_seed": sum(run.deadline_misses for run, _ in by_seed.values())}


def solar_supply(day: Day, site: SolarSite, energy_kwh: float, repeat_days: int = 1) -> tuple[SignalFeed, float]:
    """The clear-sky supply of ``site`` scaled so its energy over the trace is ``energy_kwh``; (feed, peak W).

    With ``repeat_days`` > 1 (the steady-state replay) the day's own sun repeats every day, over the
    N days and the spill: as if every day were this one, the sun included, so that its last day is
    held against the same supply as the single day and the frontier."""
    step = day.trace.step_s
    span = day.trace.samples * step
    margin = 6 * 3600.0  # the signal policy may look ahead past the day's end
    deferred = 24 * 3600.0  # deferred work may run up to a day past it (the default deferral deadline)
    end_s = day.start_s + repeat_days * span + deferred + margin
    if repeat_days == 1:
        unit = solar_series(site, day.start_s - margin, end_s, step)
    else:
        times = np.arange(day.start_s - margin, end_s, step)
        same_day = day.start_s + np.mod(times + step / 2 - day.start_s, span)  # each step's time on the first day
        unit = Series.build(times, solar_watts(site, same_day), Unit.WATTS, np.full(len(times), step),
                            origin="solar clear-sky, the first day's sun every day")
    unit_feed = SignalFeed(unit, day.start_s)
    times = np.arange(1, day.trace.samples) * step + CLOUDSIM.decision_offset_s
    unit_kwh = float(supply_at_midpoints(times, step, unit_feed.available_w).sum() * step / 3.6e6)
    if unit_kwh <= 0:
        raise SystemExit(f"follow_energy: the sun gives nothing at {site.latitude},{site.longitude} on {day.name}")
    factor = energy_kwh / unit_kwh
    scaled = Series.build(unit.times_s, unit.values * factor, Unit.WATTS, unit.durations_s, origin="solar")
    return SignalFeed(scaled, day.start_s), site.peak_w * factor


def blind_specs(frontier_specs: tuple[str, ...]) -> tuple[str, ...]:
    """The blind points a day replays (or reads from the cache): blind geyser at its defaults (it sizes
    the supplies), the frontier asked for, and thr-mmt 0.8 (the targets' reference), each once."""
    return tuple(dict.fromkeys((BLIND_REFERENCE, *frontier_specs, THR_REFERENCE)))


def point_row(day: Day, spec: str, result, **extra) -> dict:
    s = result.summary()
    keep = ("energy_kwh", "migrations", "slatah", "slatah_overload", "slatah_core_cap", "slatah_migration", "pdm",
            "slav", "host_power_cycles_max", "host_power_cycles_mean", "deferred_vm_hours", "deadline_misses",
            "wall_seconds")
    return {"kind": "point", "day": day.name, "datacenter": day.dc.name, "policy": spec,
            **{k: s[k] for k in keep}, **extra}


def bench_day(day: Day, frontier_specs: tuple[str, ...], scales: tuple[float, ...], site: SolarSite,
              out: Path | None, bar, emit, deterministic: bool, cache: Path | None = None,
              deferrable_only: bool = False, fixed_only: bool = False,
              seeds: tuple[int, ...] = (DEFAULT_DEFERRAL_SEED,), choice: str = "vms") -> list[dict]:
    """Blind runs (each point printed as it finishes, or read from ``cache``), then geyser following
    each supply; the summaries.

    ``seeds``: the steady deferrable point is replayed once per seeded choice of the deferrable VMs
    (the single-day readings, folded and as replayed, with the first). Which VMs may wait moves the
    ratio by 0.01 to 0.02 on a PlanetLab day (20110303: 0.687 to 0.710 over seeds 0, 1, 2), as much
    as most changes to the rule, so the headline is the worst choice and the mean is beside it.
    ``choice``: how each seed chooses them (``vms``, the headline's reading; ``work``, stratified by work)."""
    runner = Runner(day, bar, deterministic, choice)
    step = day.trace.step_s
    specs = blind_specs(frontier_specs)
    blind, feeds = blind_points(
        day, specs, BLIND_REFERENCE, runner.run,
        lambda energy_kwh: {scale: solar_supply(day, site, scale * energy_kwh) for scale in scales},
        lambda spec, r, by_scale: point_row(day, spec, r, signal="off", uncovered_kwh_by_supply=by_scale),
        cache, emit, need_reference_series=not deferrable_only, cached=runner.cached)
    reference = blind[BLIND_REFERENCE]
    scale_of = {id(feed): scale for scale, (feed, _) in feeds.items()}

    def uncovered(r, feed: SignalFeed, step_s: float) -> float:
        if isinstance(r, CachedRun):
            return r.uncovered_kwh_by_supply[str(scale_of[id(feed)])]
        return uncovered_kwh(r.series, feed, step_s)

    thr = blind[THR_REFERENCE]
    skip_note = "skipped: --fixed-only" if fixed_only else None
    steady_feeds, steady_rows = {}, {}
    if skip_note is None:  # the steady state's frontier: each blind point's second day of two
        steady_feeds = {s: solar_supply(day, site, s * reference.energy_kwh, STEADY_DAYS)[0] for s in scales}
        steady_rows = steady_blind(day, specs, lambda spec: runner.run(spec, days=STEADY_DAYS), steady_feeds, cache,
                                   emit, lambda spec: runner.cached(spec, STEADY_DAYS))
    summaries = []
    for scale, (feed, peak_w) in feeds.items():
        following = {} if deferrable_only else {0.0: runner.run("geyser", feed)}
        steady, by_seed = None, {}
        s_front = steady_front(steady_rows, scale) if skip_note is None else None
        if skip_note is None:
            following[DEFERRABLE_SHARE] = runner.run("geyser", feed, DEFERRABLE_SHARE, deferral_seed=seeds[0])
            for seed in seeds:
                run = runner.run("geyser", steady_feeds[scale], DEFERRABLE_SHARE, STEADY_DAYS, deferral_seed=seed)
                last = run.last_day()
                ratio, _ = ratio_to_frontier(last.above_supply_kwh, last.slatah, s_front, reference.energy_kwh)
                by_seed[seed] = (run, ratio)
                emit(point_row(day, "geyser", run, signal="solar", supply_scale=scale, supply_peak_w=peak_w,
                               deferrable=DEFERRABLE_SHARE, deferral_seed=seed, deferral_choice=choice,
                               deferrable_work_share=deferrable_work_share(day, seed, choice),
                               repeat_days=STEADY_DAYS,
                               last_day=last.as_dict(), ratio_to_steady_frontier=ratio))
            steady = worst_seed(by_seed)
        front = pareto_front([(r.slatah, uncovered(r, feed, step)) for r in blind.values()])
        for share, r in following.items():
            emit(point_row(day, "geyser", r, signal="solar", supply_scale=scale, supply_peak_w=peak_w,
                           deferrable=share, uncovered_kwh=folded_uncovered_kwh(r, day),
                           uncovered_as_replayed_kwh=r.energy_above_signal_kwh))
        summary = summarise(day, scale, peak_w, following, reference, thr, blind, front, skip_note, steady, s_front)
        if by_seed:
            summary.update(seed_figures(by_seed, steady), deferral_choice=choice)
            summary["targets_met"]["no_deadline_misses"] = summary["deadline_misses_every_seed"] == 0
        if steady is not None:  # blind geyser's second day against its single day: why the frontiers differ
            summary["blind_second_over_single_day_uncovered"] = steady_rows[BLIND_REFERENCE][
                "uncovered_kwh_by_supply"][str(scale)] / uncovered(reference, feed, step)
        emit(summary)
        summaries.append(summary)
        plotted = 0.0 in following and reference.series is not None
        if out is not None and plotted and scale == (1.0 if 1.0 in scales else scales[0]):
            plot_power(out / f"power_{day.name}.png", day.name, reference, following[0.0], feed, step,
                       (uncovered(reference, feed, step), following[0.0].energy_above_signal_kwh))
    if out is not None and not deferrable_only:
        plot_frontier(out / f"frontier_{day.name}.png", day.name, blind, feeds, summaries, step, uncovered)
    return summaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=Path, help="folder of PlanetLab days (default: ../shared/traces/planetlab)")
    parser.add_argument("--day", action="append", help="a day folder name (repeatable; default: every day)")
    parser.add_argument("--days", type=cli_number(low=1, integer=True), metavar="N",
                        help="only the first N days (default: every day)")
    parser.add_argument("--quick", action="store_true", help="the bundled 100-VM sample and the small frontier")
    parser.add_argument("--frontier", choices=sorted(FRONTIERS), help="blind points: full (14), small (7) or "
                        "none (only blind geyser at its defaults and thr-mmt 0.8); default full, small with --quick")
    parser.add_argument("--datacenter", choices=DATACENTERS, default="planetlab",
                        help="the fleet: planetlab (CloudSim's 800 hosts, two near-identical 2-core generations: "
                        "what the engine was shaped on) or three-gen (G4, G5 and an 8-core host on a linear 120/350 W "
                        "model in turn, two VMs per host: a fleet it was not); default planetlab")
    parser.add_argument("--vms-per-host", type=float, metavar="N",
                        help="three-gen only: the depth, VMs per host (default 2; PlanetLab's is 1.3)")
    parser.add_argument("--scales", default=",".join(f"{s:g}" for s in SCALES),
                        help="supply sizes as multiples of blind geyser's energy (default 0.5,1,2)")
    parser.add_argument("--lat", type=float, default=52.1, help="latitude of the solar array (default 52.1)")
    parser.add_argument("--lon", type=float, default=5.1, help="longitude of the solar array (default 5.1)")
    parser.add_argument("--start", help="wall-clock start of each day (default: midnight UTC of its folder's date)")
    parser.add_argument("--frontier-cache", type=Path, metavar="DIR",
                        help="write each day's blind points to DIR/<day>.json, or read them from there when "
                        "present (every point the file holds joins the frontier; delete it when blind "
                        "policies change)")
    parser.add_argument("--deferrable-only", action="store_true",
                        help="only geyser following the supply with 30 %% deferrable VMs, not the fixed workload")
    parser.add_argument("--fixed-only", action="store_true",
                        help="only geyser following the supply with a fixed workload, not the 30 %% deferrable one")
    parser.add_argument("--deferral-seeds", default=str(DEFAULT_DEFERRAL_SEED), metavar="S,S,..",
                        help="seeds of the choice of deferrable VMs: the steady 30 %% deferrable point is replayed "
                        "once per seed, the headline is the worst, the mean beside it (default %(default)s; which "
                        "VMs may wait moves the ratio by 0.01 to 0.02)")
    parser.add_argument("--deferral-choice", choices=DEFERRAL_CHOICES, default="vms",
                        help="how each seed chooses the 30 %% deferrable VMs: vms, uniformly at random (the "
                        "headline's reading; their share of the day's work varies with the seed, 23 to 33 %% on "
                        "PlanetLab), or work, stratified by each VM's work over the day so that they carry "
                        "about 30 %% of it (a second reading; default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("results/follow_energy"),
                        help="folder for the PNG plots (default %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="write no plots (--out unused)")
    parser.add_argument(
        "--wall-clock",
        action="store_true",
        help="let geyser's solver stop on its wall-clock limit (default: deterministic mode, so blind and "
        "following runs differ only by the signal, not by the machine's load)",
    )
    args = parser.parse_args(argv)
    try:
        scales = tuple(float(x) for x in args.scales.split(","))
    except ValueError:
        print(f"follow_energy: --scales takes numbers separated by commas, got {args.scales!r}", file=sys.stderr)
        return 2
    if args.quick:
        paths, preset = [bundled_sample()], "planetlab-small"
    else:
        traces = args.traces or default_traces()
        names = args.day or sorted(p.name for p in traces.iterdir() if p.is_dir())
        paths, preset = [traces / n for n in names][: args.days], "planetlab"
    if args.vms_per_host is not None and not (args.datacenter == "three-gen" and args.vms_per_host > 0):
        print(f"follow_energy: --vms-per-host takes a positive number with --datacenter three-gen, got "
              f"{args.vms_per_host:g} with {args.datacenter}", file=sys.stderr)
        return 2
    if args.datacenter == "three-gen":
        preset = "three-gen"
    vms_per_host = (args.vms_per_host or 2.0) if preset == "three-gen" else None
    frontier = FRONTIERS[args.frontier or ("small" if args.quick else "full")]
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        print(f"follow_energy: no such day folder: {', '.join(missing)}; see --traces", file=sys.stderr)
        return 2
    out = None if args.no_plots else args.out
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    site = SolarSite(args.lat, args.lon, peak_w=1000.0)
    from tqdm import tqdm

    def emit(row: dict) -> None:
        tqdm.write(json.dumps(row), file=sys.stdout)

    try:
        seeds = tuple(dict.fromkeys(int(x) for x in args.deferral_seeds.split(",")))
    except ValueError:
        print(f"follow_energy: --deferral-seeds takes integers separated by commas, got {args.deferral_seeds!r}",
              file=sys.stderr)
        return 2
    summaries = []
    if args.fixed_only and args.deferrable_only:
        print("follow_energy: --fixed-only and --deferrable-only exclude each other; give one", file=sys.stderr)
        return 2
    blind = len(blind_specs(frontier))
    days_per_day = planned_days(blind, len(scales), len(seeds), args.deferrable_only, args.fixed_only)
    for path in paths:
        day = load_day(path, preset, args.start, vms_per_host)
        with tqdm(total=days_per_day * (day.trace.samples - 1), unit="step", file=sys.stderr, leave=False) as bar:
            summaries.extend(bench_day(day, frontier, scales, site, out, bar, emit, not args.wall_clock,
                                       args.frontier_cache, args.deferrable_only, args.fixed_only, seeds,
                                       args.deferral_choice))
    every = {k: overall_met([s["targets_met"].get(k, True) for s in summaries])
             for s in summaries for k in s["targets_met"]}
    ratios = [s["ratio_to_frontier"] for s in summaries if s["ratio_to_frontier"] is not None]
    deferrable = [s["deferrable_ratio_to_frontier"] for s in summaries if s.get("deferrable_ratio_to_frontier")]
    emit({"kind": "overall", "days": [p.name for p in paths], "datacenter": preset,
          "worst_ratio_to_frontier": max(ratios, default=None),
          "worst_deferrable_ratio_to_frontier": max(deferrable, default=None),
          "deferrable_ratio_seed_mean_by_day": {s["day"]: s["deferrable_ratio_seed_mean"] for s in summaries
                                                if s.get("deferrable_ratio_seed_mean") is not None},
          "ratios_not_meaningful": [f"{s['day']} {s['datacenter']} {s['supply_scale']:g}x {what}: {s[key]}"
                                    for s in summaries for what, key in (("fixed", "ratio_not_meaningful"),
                                                                         ("30 % deferrable",
                                                                          "deferrable_ratio_not_meaningful"))
                                    if s.get(key)],
          "deadline_misses": sum(s.get("deadline_misses", 0) for s in summaries),
          "targets_met_every_day_and_supply": every,
          "plots": None if out is None else str(out)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
