"""A migration in flight at a decision holds room on its destination in the fleet the geyser policy
solves on (a claim row, ``claims.py``), as the Watcher strategy reads it from Nova."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from watcher_geyser.power import PowerModel
from watcher_geyser.simulator.datacenter import DataCenter
from watcher_geyser.simulator.fidelity import REALISTIC
from watcher_geyser.simulator.fleet import fleet_from_view, migrations_to
from watcher_geyser.simulator.geyser_policy import GeyserPolicy
from watcher_geyser.simulator.state import InFlight, SimState
from watcher_geyser.simulator.traces import Trace
from watcher_geyser.simulator.view import StepView

MB = {"a": 2048.0, "d": 2048.0, "c": 1024.0, "b": 2048.0}
HOST_RAM = (4096.0, 4096.0, 2048.0)  # h2 holds b alone, so c cannot leave h1 for it


def _dc(host_ram: list[float], vm_ram: list[float], names: tuple[str, ...] = ()) -> DataCenter:
    """Hosts of four 1000-MIPS cores, one-core 1000-MIPS VMs (named v0, v1, .. unless ``names``); RAM as given."""
    hosts, names = len(host_ram), names or tuple(f"v{i}" for i in range(len(vm_ram)))
    return DataCenter(
        name="claims",
        host_names=tuple(f"h{i}" for i in range(hosts)),
        pes=np.full(hosts, 4, dtype=np.int64),
        pe_mips=np.full(hosts, 1000.0),
        ram_mb=np.array(host_ram),
        bw_kbit=np.full(hosts, 1_000_000.0),
        power=(PowerModel.linear(100.0, 200.0),) * hosts,
        vm_names=names,
        vm_mips=np.full(len(names), 1000.0),
        vm_pes=np.ones(len(names), dtype=np.int64),
        vm_ram_mb=np.array(vm_ram),
        vm_bw_kbit=np.full(len(names), 100_000.0),
    )


def _view() -> StepView:
    """h0 runs a (migrating to h1) and d, full; h1 runs c; h2 runs b alone. Blind to a's migration,
    h1 has room for b (1024 + 2048 of 4096 MB) and emptying h2 saves its idle watts; counting a on
    h1 too (1024 + 2048 + 2048) it has not, and no other host has: nothing should move."""
    names = tuple(MB)
    dc = _dc(list(HOST_RAM), [MB[n] for n in names], names)
    trace = Trace(names, np.full((len(names), 3), 0.1), 300.0, "hand")
    state = SimState(dc, trace, REALISTIC)
    for vm, host in enumerate((0, 0, 1, 2)):
        state.place(vm, host)
    state.powered[:] = True
    state.in_migration[0] = True
    state.inflight.append(InFlight(0, 0, 1, 310.0, 0))
    return StepView(1, 300.0, state, state.snapshot(300.0))


def _policy(claims: bool) -> GeyserPolicy:
    policy = GeyserPolicy(claims=claims)
    policy.settings = policy.settings.with_solve(deterministic=True)
    return policy


def _ram_on(view: StepView, moves, host: int) -> float:
    """RAM on ``host`` once the moves land and every migration in flight has ended."""
    state = view.state
    where = state.vm_host.copy()
    for m in state.inflight:
        where[m.vm] = m.dst
    for m in moves:
        where[m.vm] = m.host
    return float(state.dc.vm_ram_mb[where == host].sum())


def test_the_fleet_holds_a_claim_for_the_migration_on_its_destination():
    view = _view()
    fleet = fleet_from_view(view)
    claims = [i for i in fleet.instances if i.claim_of is not None]
    assert [(c.claim_of, c.host, c.memory_mb, c.movable) for c in claims] == [("a", "h1", 2048, False)]
    a = next(i for i in fleet.instances if i.uuid == "a")
    assert (a.host, a.movable) == ("h0", False)  # the VM itself stays on its source, pinned
    assert not any(i.claim_of for i in fleet_from_view(view, claims=False).instances)


def test_the_fleet_draws_the_migrating_vm_s_watts_once_on_its_source():
    """The engine runs a on h0 until its migration ends; the claim on h1 holds room for it (and its
    CPU, for the limits), not watts: the fleet the policy solves on draws what it draws without."""
    view = _view()
    claimed, blind = fleet_from_view(view), fleet_from_view(view, claims=False)
    assert claimed.watts(powered=claimed.powered) == pytest.approx(blind.watts(powered=blind.powered))
    h1 = claimed.host_index("h1")
    assert claimed.cpu_load()[h1] == pytest.approx(2 * blind.cpu_load()[h1])  # c's and a's, as the limits count
    assert claimed.cpu_drawn_load()[h1] == pytest.approx(blind.cpu_load()[h1])  # c's alone


def test_migrations_to_leaves_claim_rows_out():
    view = _view()
    fleet = fleet_from_view(view)
    row = next(r for r, i in enumerate(fleet.instances) if i.claim_of is not None)
    placement = fleet.placement.copy()
    placement[row] = fleet.host_index("h2")  # a claim moved in an answer is no VM to migrate
    assert migrations_to(view, fleet, placement) == []


@pytest.mark.parametrize("claims", [True, False])
def test_a_migration_in_flight_keeps_its_destination_s_room_from_the_geyser_policy(claims):
    view = _view()
    moves = [m for wave in _policy(claims).decide(view) for m in wave]
    if claims:
        assert _ram_on(view, moves, 1) <= HOST_RAM[1]
        assert moves == []  # h1's room is a's, and no other host has any for b
    else:  # the control: blind to the migration, the policy fills h1 past what it holds once a lands
        assert [(m.vm, m.host) for m in moves] == [(3, 1)]
        assert _ram_on(view, moves, 1) > HOST_RAM[1]


def test_the_policy_records_migrations_in_flight_and_claim_rows_per_decision():
    view = _view()
    with_claims, blind = _policy(True), _policy(False)
    with_claims.decide(view)
    blind.decide(view)
    assert with_claims.in_flight == [(1, 1)] and blind.in_flight == [(1, 0)]


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_no_decision_fills_a_host_past_its_ram_counting_the_migrations_in_flight(data):
    """Random small realistic states with migrations in flight: once the geyser policy's moves and
    the migrations in flight have all landed, every host holds at most its RAM (the state drawn
    holds at most that counting each migration on both its hosts)."""
    hosts = data.draw(st.integers(2, 5))
    host_ram = [float(data.draw(st.sampled_from([2048, 4096]))) for _ in range(hosts)]
    vm_ram = data.draw(st.lists(st.sampled_from([512.0, 1024.0, 2048.0]), min_size=2, max_size=8))
    state = SimState(_dc(host_ram, vm_ram), Trace(tuple(f"v{i}" for i in range(len(vm_ram))),
                                                  np.array([[data.draw(st.sampled_from([0.05, 0.2, 0.5]))] * 3
                                                            for _ in vm_ram]), 300.0, "drawn"), REALISTIC)
    held = np.zeros(hosts)  # RAM on each host counting a migration on both ends
    for vm, ram in enumerate(vm_ram):
        host = data.draw(st.integers(0, hosts - 1))
        assume(held[host] + ram <= host_ram[host])
        state.place(vm, host)
        held[host] += ram
        dst = data.draw(st.integers(-1, hosts - 1))  # -1 or its own host: not migrating
        if dst not in (-1, host) and held[dst] + ram <= host_ram[dst]:
            state.in_migration[vm] = True
            state.inflight.append(InFlight(vm, host, dst, 310.0, vm))
            held[dst] += ram
    state.powered[:] = True
    view = StepView(1, 300.0, state, state.snapshot(300.0))
    moves = [m for wave in _policy(True).decide(view) for m in wave]
    assert not {m.vm for m in moves} & {m.vm for m in state.inflight}  # a VM in flight is not moved twice
    for host in range(hosts):
        assert _ram_on(view, moves, host) <= host_ram[host]
