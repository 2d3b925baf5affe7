"""The same day repeated back to back (``--repeat-day``): arrivals, work, and the last day's window."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher_geyser.signal import Series, Unit
from watcher_geyser.signal.series import parse_time
from watcher_geyser.simulator.arrivals import copy_name, repeat_day
from watcher_geyser.simulator.baselines import Consolidation, NoMigration, make_policy
from watcher_geyser.simulator.datacenter import PRESETS
from watcher_geyser.simulator.deferral import DeferralSetup, place_like_nova, place_new
from watcher_geyser.simulator.engine import simulate
from watcher_geyser.simulator.fidelity import fidelity
from watcher_geyser.simulator.geyser_policy import GeyserPolicy, SignalFeed
from watcher_geyser.simulator.placement import ThresholdDetector
from watcher_geyser.simulator.state import SimState
from watcher_geyser.simulator.traces import Trace

STEP_S = 300.0


def _day(util: np.ndarray):
    names = tuple(f"vm-{i:02d}" for i in range(util.shape[0]))
    trace = Trace(names, util, STEP_S, "random")
    return trace, PRESETS["planetlab"](names, hosts=2 * util.shape[0] + 2)


class WatchingConsolidation(Consolidation):
    """thr-mmt that writes down, at every decision, which VMs run: what the arrival test reads."""

    def __init__(self) -> None:
        super().__init__("thr-mmt", ThresholdDetector(0.8))
        self.seen: list[tuple[float, np.ndarray]] = []

    def decide(self, view):
        self.seen.append((view.time_s, view.state.alive.copy()))
        return super().decide(view)


def test_repeat_day_stacks_copies_that_arrive_a_day_apart():
    trace, dc = _day(np.full((3, 4), 0.5))
    setup = DeferralSetup(np.array([True, False, True]), 3600.0)
    rep = repeat_day(trace, dc, 3, setup)
    day_s = 4 * STEP_S
    assert rep.trace.names[:3] == trace.names
    assert rep.trace.names[3:6] == tuple(copy_name(n, 2) for n in trace.names) == ("vm-00@d2", "vm-01@d2", "vm-02@d2")
    assert rep.dc.vms == 9 and np.array_equal(rep.trace.util[6:], trace.util)
    assert rep.arrivals.arrival_s.tolist() == [0.0] * 3 + [day_s] * 3 + [2 * day_s] * 3
    assert rep.deferral.deferrable.tolist() == [True, False, True] * 3  # the same jobs every day
    for bad in (0, 15):
        with pytest.raises(ValueError, match="repeated 1 to 14 times"):
            repeat_day(trace, dc, bad)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), vms=st.integers(1, 6), samples=st.integers(3, 9), days=st.integers(2, 3))
def test_copies_never_run_before_they_arrive_and_each_day_does_the_same_work(seed, vms, samples, days):
    rng = np.random.default_rng(seed)
    util = rng.uniform(0.05, 0.9, size=(vms, samples))
    trace, dc = _day(util)
    one = simulate(trace, dc, make_policy("thr-mmt"), fidelity("cloudsim"))
    policy = WatchingConsolidation()
    run = simulate(trace, dc, policy, fidelity("cloudsim"), repeat_days=days)
    assert run.vms_unplaced == 0 and run.repeat_days == days
    # a repeated day is a whole day: the single day's work and its last interval, read at the last sample
    whole_day = one.work_vm_hours + util[:, -1].sum() * STEP_S / 3600.0
    assert run.work_vm_hours == pytest.approx(days * whole_day, rel=1e-9)
    day_s = samples * STEP_S
    arrival = np.repeat(np.arange(days) * day_s, vms)
    for t, alive in policy.seen:
        assert not (alive & (arrival > t)).any(), f"a VM runs at {t} s before its arrival"
        end = arrival + day_s + fidelity("cloudsim").decision_offset_s
        assert not (alive & (t > end + 1e-6)).any(), f"a VM runs at {t} s after its day's end"
    # the last copy arrived and ran: the replay reaches its day's end
    assert run.series.time_s[-1] >= days * day_s


class WatchingDvfs(NoMigration):
    """DVFS (never migrates) that writes down where every VM runs at every decision."""

    def __init__(self) -> None:
        super().__init__("dvfs", charges_full_power=False)
        self.hosts: list[tuple[float, np.ndarray]] = []

    def decide(self, view):
        self.hosts.append((view.time_s, view.state.vm_host.copy()))
        return super().decide(view)


def test_the_next_days_copy_starts_on_the_host_its_predecessor_ran_on():
    """The same service running on: at midnight no host is emptied, each copy takes over its host."""
    rng = np.random.default_rng(2)
    util = rng.uniform(0.05, 0.9, size=(6, 5))
    trace, dc = _day(util)
    policy = WatchingDvfs()
    run = simulate(trace, dc, policy, fidelity("cloudsim"), repeat_days=2)
    day_s = 5 * STEP_S
    before = [h for t, h in policy.hosts if t < day_s][-1]
    after = [h for t, h in policy.hosts if t >= day_s][0]
    assert (before[:6] >= 0).all() and np.array_equal(after[6:], before[:6]) and (after[:6] == -1).all()
    assert run.host_power_offs == 0  # nothing switched off on the day's boundary (nor at the end)


def test_one_repetition_is_the_plain_replay():
    rng = np.random.default_rng(5)
    trace, dc = _day(rng.uniform(0.05, 0.9, size=(5, 8)))
    plain = simulate(trace, dc, make_policy("thr-mmt"), fidelity("cloudsim"))
    once = simulate(trace, dc, make_policy("thr-mmt"), fidelity("cloudsim"), repeat_days=1)
    assert (once.energy_kwh, once.migrations, once.slatah) == (plain.energy_kwh, plain.migrations, plain.slatah)
    assert once.last_day() is None and "last_day" not in once.summary()


def _dark_then_bright(samples: int, dark_share: float = 0.5, bright_w: float = 5000.0) -> SignalFeed:
    """A supply dark for the first ``dark_share`` of every day of ``samples`` steps, ``bright_w`` after."""
    day_s = samples * STEP_S
    start_s = parse_time("2026-06-21T00:00:00Z")
    times = start_s + np.arange(-4, 5 * samples) * STEP_S
    bright = (np.mod(times - start_s, day_s) >= dark_share * day_s).astype(float) * bright_w
    return SignalFeed(Series.build(times, bright, Unit.WATTS, np.full(len(times), STEP_S), origin="test"), start_s)


def _eight_vm_day_dark_then_bright():
    """8 VMs over a "day" of three hours (36 samples) and a supply dark for its first half: the
    trace, its data centre, the day's length in seconds and the supply."""
    samples = 36
    util = np.random.default_rng(11).uniform(0.05, 0.6, size=(8, samples))
    trace, dc = _day(util)
    return trace, dc, samples * STEP_S, _dark_then_bright(samples)


def test_repeated_deferral_keeps_work_and_deadlines_and_reports_the_last_day():
    """geyser following a supply dark at night and bright by day, 2 days of one 8-VM day with half
    deferrable: every copy's work is done, no deadline missed, the last day's window reported."""
    trace, dc, day_s, feed = _eight_vm_day_dark_then_bright()
    setup = DeferralSetup(np.arange(8) % 2 == 0, day_s)
    policy = GeyserPolicy(signal=feed)
    policy.settings = policy.settings.with_solve(deterministic=True)
    run = simulate(trace, dc, policy, fidelity("cloudsim"), feed.available_w, None, setup, repeat_days=2)
    plain = simulate(trace, dc, make_policy("dvfs"), fidelity("cloudsim"), repeat_days=2)
    assert run.work_vm_hours == pytest.approx(plain.work_vm_hours, rel=1e-9)  # deferred work is done
    assert run.deadline_missed == () and run.deferred_vm_hours > 0
    last = run.last_day()
    assert (last.start_s, last.end_s) == (day_s, 2 * day_s)
    assert 0 <= last.above_supply_kwh <= run.energy_above_signal_kwh + 1e-12
    assert run.summary()["last_day"]["above_supply_kwh"] == last.above_supply_kwh


class WatchingDeferral(GeyserPolicy):
    """geyser that writes down, each time the deferral rule is consulted, who runs and whom the rule sees run."""

    def __init__(self, signal) -> None:
        super().__init__(signal=signal)
        self.settings = self.settings.with_solve(deterministic=True)
        self.seen: list[tuple[float, np.ndarray, set[str]]] = []

    def defer(self, view, book):
        running = {c.uuid for c in book.candidates(view.time_s, self.signal.start_s) if not c.shelved}
        self.seen.append((view.time_s, view.state.alive.copy(), running))
        return super().defer(view, book)


def test_a_deferrable_copy_arriving_in_the_dark_is_shelved_before_it_holds_a_host():
    """Yesterday's deferred work still runs at midnight, so today's deferrable copies cannot take
    over its hosts: the rule sees them (as running) before they are placed, so a copy it shelves
    never switches a host on; those it lets run are placed, and every copy's work is done."""
    trace, dc, day_s, feed = _eight_vm_day_dark_then_bright()
    deferrable = np.arange(8) % 2 == 0
    policy = WatchingDeferral(feed)
    run = simulate(trace, dc, policy, fidelity("cloudsim"), feed.available_w, None,
                   DeferralSetup(deferrable, day_s), repeat_days=2)
    assert run.deadline_missed == () and run.vms_unplaced == 0
    copies = np.flatnonzero(np.concatenate([np.zeros(8, dtype=bool), deferrable]))
    names = [copy_name(trace.names[v - 8], 2) for v in copies]
    t, alive, running = next(row for row in policy.seen if row[0] >= day_s)
    assert not alive[copies].any() and set(names) <= running  # seen by the rule, placed nowhere yet
    plain = simulate(trace, dc, make_policy("dvfs"), fidelity("cloudsim"), repeat_days=2)
    assert run.work_vm_hours == pytest.approx(plain.work_vm_hours, rel=1e-9)  # and their work is done


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), vms=st.integers(2, 6), share=st.sampled_from([0.34, 0.5, 1.0]),
       dark_share=st.floats(0.2, 0.8), bright_w=st.sampled_from([300.0, 5000.0]))
def test_offered_copies_are_shelved_or_placed_and_no_deadline_is_missed(seed, vms, share, dark_share, bright_w):
    """Property: whatever the supply, a repeated day with deferrable copies offered to the rule
    loses no VM (each offered copy is shelved or placed), does all the work and misses no deadline."""
    rng = np.random.default_rng(seed)
    samples = 24
    util = rng.uniform(0.05, 0.7, size=(vms, samples))
    trace, dc = _day(util)
    day_s = samples * STEP_S
    feed = _dark_then_bright(samples, dark_share, bright_w)
    setup = DeferralSetup.seeded(vms, share, day_s, seed)
    policy = GeyserPolicy(signal=feed)
    policy.settings = policy.settings.with_solve(deterministic=True, time_limit_s=2.0)
    run = simulate(trace, dc, policy, fidelity("cloudsim"), feed.available_w, None, setup, repeat_days=2)
    plain = simulate(trace, dc, make_policy("dvfs"), fidelity("cloudsim"), repeat_days=2)
    assert run.vms_unplaced == 0 and run.deadline_missed == ()
    assert run.work_vm_hours == pytest.approx(plain.work_vm_hours, rel=1e-9)


def _series(power_w, supply_w, interval_s: float, offset_s: float = 0.1):
    from watcher_geyser.simulator.metrics import StepSeries

    n = len(power_w)
    s = StepSeries()
    s.time_s = [(k + 1) * interval_s + offset_s for k in range(n)]
    s.power_w, s.available_w = list(power_w), list(supply_w)
    s.host_s = [interval_s * 3] * n
    s.violation_host_s = [interval_s * (k % 2) for k in range(n)]
    s.migrations = [k % 3 for k in range(n)]
    s.vms_shelved = [k % 4 for k in range(n)]
    return s


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 5000)), min_size=1, max_size=60),
       cut=st.floats(0, 1), cut2=st.floats(0, 1))
def test_a_window_is_part_of_the_whole_and_the_whole_window_is_the_run(rows, cut, cut2):
    from watcher_geyser.simulator.metrics import energy_above_supply_kwh, window_figures

    interval = 300.0
    power, supply = zip(*rows, strict=True)
    s = _series(power, supply, interval)
    end = s.time_s[-1] + interval
    whole = window_figures(s, interval, 0.0, end, [[100.0, end - 1.0], []])
    assert whole.above_supply_kwh == pytest.approx(energy_above_supply_kwh(power, supply, interval))
    assert whole.energy_kwh == pytest.approx(sum(power) * interval / 3.6e6)
    assert whole.slatah == pytest.approx(sum(s.violation_host_s) / sum(s.host_s))
    assert whole.migrations == sum(s.migrations)
    a, b = sorted((cut * end, cut2 * end))
    if b > a:
        part = window_figures(s, interval, a, b)
        assert part.above_supply_kwh <= whole.above_supply_kwh + 1e-9
        assert part.energy_kwh <= whole.energy_kwh + 1e-9 and part.migrations <= whole.migrations
        # windows that split the run add up to it
        pieces = [window_figures(s, interval, lo, hi) for lo, hi in ((0.0, a), (a, b), (b, end)) if hi > lo]
        assert sum(p.above_supply_kwh for p in pieces) == pytest.approx(whole.above_supply_kwh, abs=1e-9)


def test_the_window_of_a_single_day_without_spill_is_the_whole_run():
    rng = np.random.default_rng(7)
    trace, dc = _day(rng.uniform(0.05, 0.9, size=(6, 10)))
    supply = lambda t: 150.0 if t < 1500 else 40.0  # noqa: E731
    run = simulate(trace, dc, make_policy("thr-mmt"), fidelity("cloudsim"), supply)
    day = run.window(0.0, run.day_s)
    assert day.above_supply_kwh == pytest.approx(run.energy_above_signal_kwh, rel=1e-12)
    assert day.energy_kwh == pytest.approx(run.energy_kwh, rel=1e-9)
    assert day.migrations == run.migrations and day.slatah == pytest.approx(run.slatah, rel=1e-9)
    assert day.power_cycles_max == run.host_power_cycles_max
    assert day.power_cycles_mean == pytest.approx(run.host_power_cycles_mean, rel=1e-12)


def test_a_bad_window_is_refused():
    from watcher_geyser.simulator.metrics import window_figures

    with pytest.raises(ValueError, match="start < end"):
        window_figures(_series([1.0], [1.0], 300.0), 300.0, 10.0, 10.0)


@pytest.mark.parametrize("value", ["0", "15", "2.5"])
def test_cli_refuses_a_bad_repeat_day(value, capsys):
    from watcher_geyser.cli import main

    try:
        code = main(["simulate", "--quiet", "--limit", "5", "--policy", "dvfs", "--repeat-day", value])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "--repeat-day" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_prints_and_reports_the_last_day(tmp_path, capsys):
    import json

    from watcher_geyser.cli import main

    code = main(["simulate", "--quiet", "--limit", "12", "--policy", "thr-mmt", "--fidelity", "cloudsim",
                 "--signal-w", "400", "--repeat-day", "2", "--out", str(tmp_path), "--no-plots"])
    assert code == 0
    out = capsys.readouterr().out
    assert "thr-mmt: last day (2 of 2, the steady state): above supply" in out
    report = json.loads((tmp_path / "report.json").read_text())
    last = report["policies"]["thr-mmt"]["last_day"]
    assert last["start_s"] == 86400.0 and last["end_s"] == 2 * 86400.0 and last["above_supply_kwh"] >= 0
    assert report["meta"]["repeat_day"] == 2


def _fresh_state(vms: int, hosts_on: list[int]):
    """A cloudsim state of ``vms`` small VMs on the planetlab preset (6 hosts), the first VM on each
    host of ``hosts_on`` (the others off); the rest not placed yet."""
    util = np.full((vms, 4), 0.2)
    names = tuple(f"vm-{i:02d}" for i in range(vms))
    trace = Trace(names, util, STEP_S, "random")
    dc = PRESETS["planetlab"](names, hosts=6)
    state = SimState(dc, trace, fidelity("cloudsim"))
    for k, h in enumerate(hosts_on):
        state.place(k, h)
        state.powered[h] = True
    return state


@settings(max_examples=40, deadline=None)
@given(held=st.sets(st.integers(0, 5)), on=st.sets(st.integers(0, 5), max_size=3), full=st.sets(st.integers(0, 5)))
def test_a_new_instance_avoids_hosts_the_budget_holds_off_while_another_has_room(held, on, full):
    """Nova's part for a new instance (``place_new``): a host held off by the power-cycle budget is
    switched on for it only when no other host has room; it is never refused for the budget."""
    state = _fresh_state(8, sorted(on))
    v = len(on)
    free = state.dc.total_mips.astype(np.float64) - state.snapshot(0.0).host_cap_mips
    for h in full:
        free[h] = 0.0  # no room there
    host = place_new(state, v, free, frozenset(held))
    dc = state.dc
    fits = [h for h in range(6) if free[h] >= dc.vm_mips[v] and dc.pe_mips[h] * dc.vm_pes[v] >= dc.vm_mips[v]]
    assert (host is None) == (not fits)
    if host is not None:
        assert host in fits
        powered = [h for h in fits if h in on]
        spare_off = [h for h in fits if h not in on and h not in held]
        if powered:  # a powered host with room comes first (the fullest), as before
            assert host in powered
        elif spare_off:
            assert host not in held, f"host {host} is held off but {spare_off} had room"
        assert host == place_like_nova(state, v, free, frozenset(held)) or not (powered or spare_off)


def test_arrivals_of_a_new_day_keep_off_the_hosts_the_budget_holds_off():
    """A copy whose predecessor is not running at midnight is placed as Nova places a new instance:
    not on a host the budget holds off while another off host has room (``Arrivals.admit``)."""
    trace, dc = _day(np.full((2, 4), 0.3))
    rep = repeat_day(trace, dc, 2)
    state = SimState(rep.dc, rep.trace, fidelity("cloudsim"))
    day_s = 4 * STEP_S
    ending = np.full(4, -1)  # no predecessor ran to the day's end: both copies are new instances
    free = rep.dc.total_mips.astype(np.float64)
    held = frozenset(range(0, rep.dc.hosts - 1))  # every host but the last held off
    lost, offered = rep.arrivals.admit(state, day_s, free, ending, held_off=held)
    assert lost == 0 and offered == []
    assert {int(state.vm_host[2]), int(state.vm_host[3])} == {rep.dc.hosts - 1}
