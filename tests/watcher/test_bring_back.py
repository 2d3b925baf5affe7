"""The strategy brings a due instance back onto a host it switches on first, when the fleet has no room.

Run offline through Watcher's own loader and ``execute()`` (``strategies.offline``), with a cloud
that holds one instance geyser shelved and a bare-metal service for every host.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from oslo_config import cfg

from tests.builders import fleet, host, vm
from watcher_geyser.deferral import Deferral
from watcher_geyser.deferral.fleet import Shelved
from watcher_geyser.strategies import model_builder, offline
from watcher_geyser.strategies.action_names import NODE_POWER_ACTION
from watcher_geyser.strategies.cloud import MetalInventory
from watcher_geyser.strategies.opts import INSTANCE_STATE_ACTION

HOUR = 3600.0


class ShelvedCloud(offline.FleetCloud):
    """The fleet's cloud, plus instances geyser holds shelved and a bare-metal node per host."""

    def __init__(self, f, shelved, groups=None):
        super().__init__(f)
        self._shelved, self._fleet = shelved, f
        self._groups.update(groups or {})  # shelved members too, as Nova lists a group's members

    def shelved_by_geyser(self, notes):
        return list(self._shelved)

    def metal_inventory(self):
        return MetalInventory({h.name: f"node-{h.name}" for h in self._fleet.hosts},
                              model_builder.power_states(self._fleet))


def _run(shelved_for: float):
    """Two hosts full to the vcpu, one off; one instance shelved ``shelved_for`` seconds of its 8 h."""
    f = fleet([host("a", vcpus=8), host("b", vcpus=8), host("c", vcpus=8, state="off")],
              [vm("v1", "a", vcpus=8, cpu_util=0.9), vm("v2", "b", vcpus=8, cpu_util=0.9)])
    spec = Deferral(max_deferral_s=8 * HOUR, shelved_at_s=time.time() - shelved_for)
    job = Shelved("11111111-2222-3333-4444-555555555555", "job", spec, 4, 4096, 20, "az1")
    run = offline.run_strategy("geyser_energy", f, {"time_limit_s": 2.0}, cloud=ShelvedCloud(f, [job]))
    return job, list(zip(run.solution.actions, run.solution.waves)), run, f


def test_a_due_bring_back_into_a_packed_fleet_switches_a_host_on_first_and_names_its_destination():
    job, actions, run, f = _run(8 * HOUR - 300)  # five minutes of its maximum deferral left: due
    back = [(a, w) for a, w in actions if a["action_type"] == INSTANCE_STATE_ACTION]
    assert len(back) == 1
    params, back_wave = back[0][0]["input_parameters"], back[0][1]
    assert (params["resource_id"], params["state"], params["destination_node"]) == (job.uuid, "active", "c")
    on = [w for a, w in actions if a["action_type"] == NODE_POWER_ACTION and a["input_parameters"]["state"] == "on"
          and a["input_parameters"]["resource_name"] == "c"]
    enable = [w for a, w in actions if a["action_type"] == "change_nova_service_state"
              and a["input_parameters"] == {"state": "enabled", "resource_name": "c",
                                            "resource_id": model_builder.node_uuid("c")}]
    assert len(on) == 1 and len(enable) == 1 and on[0] < enable[0] < back_wave
    # nothing switches c off again, nor migrates the returning instance
    assert not [a for a, _ in actions if a["action_type"] == NODE_POWER_ACTION
                and a["input_parameters"]["state"] == "off" and a["input_parameters"]["resource_name"] == "c"]
    assert not [a for a, _ in actions if a["action_type"] == "migrate"
                and a["input_parameters"]["resource_id"] == job.uuid]


def test_the_watts_shown_as_now_leave_out_the_host_switched_on_for_a_bring_back():
    _, _, run, f = _run(8 * HOUR - 300)
    emitted = run.strategy.outcome["emitted"]
    assert emitted.watts_before_w == pytest.approx(f.watts(powered=f.powered))  # c is off now
    assert emitted.watts_after_w > emitted.watts_before_w + f.hosts[2].power.idle_w - 1e-6  # c on, holding the job


def test_a_bring_back_keeps_away_from_a_member_of_its_hard_anti_affinity_group():
    """Nova lists the shelved instance as a member of its group; the strategy gives it a host apart."""
    f = fleet([host("a", vcpus=8), host("b", vcpus=8)],
              [vm("v1", "a", vcpus=4, server_group="g"), vm("v2", "b", vcpus=2)], {"g": "anti-affinity"})
    spec = Deferral(max_deferral_s=8 * HOUR, shelved_at_s=time.time() - 8 * HOUR + 300)
    job = Shelved("11111111-2222-3333-4444-555555555555", "job", spec, 4, 4096, 20, "az1")
    cloud = ShelvedCloud(f, [job], {job.uuid: ("g", "anti-affinity")})
    run = offline.run_strategy("geyser_energy", f, {"time_limit_s": 2.0}, cloud=cloud)
    back = [a["input_parameters"] for a in run.solution.actions if a["action_type"] == INSTANCE_STATE_ACTION]
    assert [p["destination_node"] for p in back] == ["b"]  # a, the fullest that fits, holds v1
    # and the plan keeps them apart: v1 is not packed onto b beside the job
    assert not [a for a in run.solution.actions if a["action_type"] == "migrate"
                and a["input_parameters"]["resource_id"] == "v1"]


class NoGroupsCloud(ShelvedCloud):
    """As ``ShelvedCloud``, but Nova's server-group listing fails (the note ``cloud.server_groups`` gives)."""

    def server_groups(self):
        return {}, "server groups could not be listed (ConnectFailure); any instance may belong to a group"


def test_with_the_groups_unknown_a_bring_back_names_no_host_and_no_host_is_switched_on_for_it():
    """The shelved instance may be in a hard (anti-)affinity group geyser cannot see: Nova's scheduler places it."""
    f = fleet([host("a", vcpus=8), host("b", vcpus=8), host("c", vcpus=8, state="off")],
              [vm("v1", "a", vcpus=8, cpu_util=0.9)])  # a full, b on and empty, c off
    spec = Deferral(max_deferral_s=8 * HOUR, shelved_at_s=time.time() - 8 * HOUR + 300)
    job = Shelved("11111111-2222-3333-4444-555555555555", "job", spec, 4, 4096, 20, "az1")
    run = offline.run_strategy("geyser_energy", f, {"time_limit_s": 2.0}, cloud=NoGroupsCloud(f, [job]))
    back = [a["input_parameters"] for a in run.solution.actions if a["action_type"] == INSTANCE_STATE_ACTION]
    assert len(back) == 1 and back[0]["resource_id"] == job.uuid and "destination_node" not in back[0]
    assert not [a for a in run.solution.actions if a["action_type"] == NODE_POWER_ACTION]
    assert any("server groups unknown: the 1 instance(s) brought back get no named host" in n
               for n in run.strategy.outcome["notes"])
    # the plan keeps room for it: b, empty, is not disabled ahead of the bring-back (Nova could place it nowhere)
    assert not [a for a in run.solution.actions if a["action_type"] == "change_nova_service_state"]


class _Endpoint:
    """What ``geyser_instance_state`` reads of the compute proxy: its endpoint's microversions."""

    def __init__(self, top):
        self.max_microversion = top

    def get_endpoint_data(self):
        return self


def test_the_action_names_the_host_only_for_an_offloaded_server_on_an_api_that_takes_it():
    from watcher_geyser.strategies.instance_state_action import _cannot_target

    assert _cannot_target(_Endpoint("2.103"), "SHELVED_OFFLOADED") is None
    assert _cannot_target(_Endpoint((2, 91)), "SHELVED_OFFLOADED") is None
    assert "needs 2.91" in _cannot_target(_Endpoint("2.90"), "SHELVED_OFFLOADED")
    assert "needs 2.91" in _cannot_target(_Endpoint(None), "SHELVED_OFFLOADED")
    assert "SHELVED, and only an offloaded one" in _cannot_target(_Endpoint("2.103"), "SHELVED")


@contextlib.contextmanager
def _energy_option(name: str, value):
    """``[watcher_strategies.geyser_energy] name = value`` for the block (the strategy loaded once before)."""
    group = "watcher_strategies.geyser_energy"
    cfg.CONF.set_override(name, value, group=group)
    try:
        yield
    finally:
        cfg.CONF.clear_override(name, group=group)


def _shelved(uuid: str, name: str, left_s: float, vcpus: int, memory_mb: int) -> Shelved:
    """An instance geyser shelved with ``left_s`` of its 8 h maximum deferral left."""
    spec = Deferral(max_deferral_s=8 * HOUR, shelved_at_s=time.time() - 8 * HOUR + left_s)
    return Shelved(uuid, name, spec, vcpus, memory_mb, 20, "az1")


def _scarce_run(f, shelved: list[Shelved], parameters: dict):
    """``geyser_energy`` on ``f`` with scarce energy throughout (only a deadline brings a job back)."""
    from watcher_geyser.signal import opts as signal_opts

    signal_opts.register_opts(cfg.CONF)
    with contextlib.ExitStack() as stack:
        cfg.CONF.set_override("named_sources", ["scarce=constant:1W"], group=signal_opts.GROUP)
        stack.callback(cfg.CONF.clear_override, "named_sources", group=signal_opts.GROUP)
        run = offline.run_strategy("geyser_energy", f, {"time_limit_s": 2.0, "signal_source": "scarce", **parameters},
                                   cloud=ShelvedCloud(f, shelved))
    back = sorted(a["input_parameters"]["resource_id"] for a in run.solution.actions
                  if a["action_type"] == INSTANCE_STATE_ACTION)
    return run, back


JOB = "11111111-2222-3333-4444-555555555555"
LATER = "66666666-2222-3333-4444-555555555555"


def _slow_network_run(parameters: dict):
    """Two hosts, each with one light instance of 32 GB: the plan packs them onto one host (one
    migration of 32 GB). One instance shelved with 30 min of its 8 h left: more than the 15 min lead
    plus the plan's estimate at the default 1000 MB/s (about 40 s a migration), less than it at 10 MB/s."""
    f = fleet([host("a", vcpus=16, memory_mb=131072), host("b", vcpus=16, memory_mb=131072)],
              [vm("v1", "a", vcpus=2, memory_mb=32768), vm("v2", "b", vcpus=2, memory_mb=32768)])
    run, back = _scarce_run(f, [_shelved(JOB, "job", 1800, 2, 2048)], parameters)
    migrations = [a for a in run.solution.actions if a["action_type"] == "migrate"]
    return back, migrations, run.strategy.outcome["notes"]


def test_the_migration_bandwidth_times_the_plan_and_brings_back_what_a_slower_network_makes_due():
    """The default 1000 MB/s leaves the job shelved; the operator's 10 MB/s (audit parameter, or the
    strategy's option) makes the plan about 55 min long, so the job falls due while it runs and comes back."""
    back, migrations, _ = _slow_network_run({})
    assert migrations and back == []
    back, migrations, notes = _slow_network_run({"migration_bandwidth_mb_s": 10.0})
    assert back == [JOB]
    assert any("planned 2 times" in n for n in notes)
    with _energy_option("migration_bandwidth_mb_s", 10.0):
        assert _slow_network_run({})[0] == [JOB]
        assert _slow_network_run({"migration_bandwidth_mb_s": 1000.0})[0] == []  # the audit's own wins


def _slow_power_on_run(parameters: dict) -> list[str]:
    """Two hosts full to the vcpu, one off; one instance due (5 min of its 8 h left), which needs the off host
    switched on, and one with 30 min left: more than the 15 min lead plus the plan's estimate with the default
    power-on (300 s), less than it with bare metal's 20 min. The ids brought back."""
    f = fleet([host("a", vcpus=8), host("b", vcpus=8), host("c", vcpus=8, state="off")],
              [vm("v1", "a", vcpus=8, cpu_util=0.9), vm("v2", "b", vcpus=8, cpu_util=0.9)])
    shelved = [_shelved(JOB, "due", 300, 4, 4096), _shelved(LATER, "later", 1800, 4, 4096)]
    return _scarce_run(f, shelved, parameters)[1]


def test_the_host_power_on_time_brings_back_what_a_slow_bare_metal_boot_makes_due():
    """The default 300 s power-on leaves the later job shelved; the operator's 20 min (audit parameter, or the
    strategy's option) makes the plan that switches c on long enough for it to fall due, and it comes back too."""
    assert _slow_power_on_run({}) == [JOB]
    assert _slow_power_on_run({"host_power_on_s": 1200.0}) == [JOB, LATER]
    with _energy_option("host_power_on_s", 1200.0):
        assert _slow_power_on_run({}) == [JOB, LATER]
        assert _slow_power_on_run({"host_power_on_s": 300.0}) == [JOB]  # the audit's own wins


@pytest.mark.parametrize("name", ["migration_bandwidth_mb_s", "host_power_on_s", "host_power_off_s"])
def test_a_timing_option_that_is_not_a_number_fails_the_audit_naming_it(name):
    _slow_network_run({})  # loads the strategy: its options registered
    with _energy_option(name, float("nan")), pytest.raises(
            ValueError, match=rf"\[watcher_strategies.geyser_energy\] {name}"):
        _slow_network_run({})
