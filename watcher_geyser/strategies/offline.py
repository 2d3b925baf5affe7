"""Run a Watcher strategy offline on a ``Fleet``, through Watcher's own loader and ``execute()``.

What Watcher's decision engine does for an audit, minus the database and the services:

1. ``DefaultStrategyLoader().load(name)`` finds the strategy by its ``watcher_strategies``
   entry point and registers its options under ``[watcher_strategies.<name>]``;
2. the audit's parameters are checked and completed with the schema's defaults by
   Watcher's ``StrictDefaultValidatingDraft4Validator`` (as ``DefaultStrategyContext``
   does) and copied into ``input_parameters``;
3. the strategy runs on the cluster model Watcher would have collected: here
   ``model_builder.model_from_fleet(fleet)``, set where the collector's model goes;
4. ``execute()`` runs ``pre_execute``, ``do_execute``, ``post_execute`` and the global
   efficacy, unchanged.

The services the strategies ask during ``execute`` are answered from the fleet through
what the strategy object is handed, without patching anything of Watcher's: the datasource
is set where Watcher caches the one its ``DataSourceManager`` would build
(``_datasource_backend``, so no Gnocchi or Grafana helper is built offline), and our
strategies' cloud look-ups (``strategy.cloud``, a ``cloud.CloudLookups``) are a
``FleetCloud``: zones and server groups from the fleet, no bare-metal service (no host is
switched on or off offline).

``solution_actions`` and ``weight_planner_waves`` read the answer back: the first in the
solution's order, the second grouped as Watcher's default ``weight`` planner would run
them (by action type, ``parallelization`` at a time, each group after the previous one),
so that a replay judges what would really run side by side.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from watcher_geyser.claims import MigrationRecord, fleet_migrations
from watcher_geyser.fleet import Fleet
from watcher_geyser.planner import Action, ActionKind
from watcher_geyser.strategies import model_builder
from watcher_geyser.strategies.action_names import POWER_ACTIONS
from watcher_geyser.strategies.cloud import MetalInventory
from watcher_geyser.strategies.fleet_datasource import FleetDatasource

MIGRATE = "migrate"
SERVICE_STATE = "change_nova_service_state"


@dataclass
class StrategyRun:
    """One strategy's answer on one fleet: the solution, the strategy object and its timing."""

    name: str
    solution: object  # watcher.decision_engine.solution.base.BaseSolution
    strategy: object  # watcher.decision_engine.strategy.strategies.base.BaseStrategy
    seconds: float  # wall time of execute(), the part Watcher's decision engine spends on it
    datasource: FleetDatasource
    phase_seconds: dict[str, float] = field(default_factory=dict)  # pre_execute, do_execute, post_execute

    @property
    def actions(self) -> list[dict]:
        return list(self.solution.actions)


class FleetCloud:
    """``cloud.CloudLookups`` answered from a fleet: its zones and server groups, no bare metal, and
    the Nova tasks in flight ``tasks`` gives (instance uuid -> task_state; none by default: a
    fleet's own in-flight instances already carry the task as their state), and the migrations in
    flight ``migrations`` gives, else those the fleet's claim rows stand for (none for a fleet without
    claims; ``model_builder`` leaves the rows out of Watcher's model, the look-up brings them back),
    and the migrations finished lately ``finished`` gives, else one per instance of the fleet with a
    ``settled_s`` (``completed``, to its host, ended that long before the look-up; Watcher's model
    holds no such time either)."""

    def __init__(self, fleet: Fleet, tasks: dict[str, str] | None = None,
                 migrations: list[MigrationRecord] | None = None, finished: list[MigrationRecord] | None = None):
        self._zones = model_builder.host_zones(fleet)
        self._groups = model_builder.server_groups(fleet)
        self._tasks = dict(tasks or {})
        self._migrations = list(fleet_migrations(fleet) if migrations is None else migrations)
        self._finished = finished
        self._settled = {i.uuid: (i.host, i.settled_s) for i in fleet.instances
                         if i.settled_s is not None and i.claim_of is None}

    def host_zones(self, notes: list[str]) -> dict[str, str]:
        return dict(self._zones)

    def server_groups(self) -> tuple[dict[str, tuple[str, str]], str | None]:
        return dict(self._groups), None

    def metal_inventory(self) -> MetalInventory:
        return MetalInventory(error="no bare-metal service in an offline run")

    def shelved_by_geyser(self, notes: list[str]) -> list:
        return []  # a fleet holds no shelved instance

    def power_actions(self, since_s: float, now_s: float, notes: list[str]) -> list | None:
        return []  # an offline run has no history: every host has its power cycles

    def services_down_since(self, notes: list[str]) -> dict[str, float]:
        return {}  # no compute service to ask

    def tasks_in_flight(self, notes: list[str]) -> dict[str, str]:
        return dict(self._tasks)

    def migrations_in_flight(self, notes: list[str]) -> list[MigrationRecord]:
        return list(self._migrations)

    def migrations_finished(self, since_s: float, notes: list[str]) -> list[MigrationRecord]:
        if self._finished is not None:
            return [m for m in self._finished if m.ended_s is None or m.ended_s >= since_s]
        now_s = time.time()
        return [MigrationRecord(uuid, None, host, "completed", "live-migration", ended_s=now_s - settled_s)
                for uuid, (host, settled_s) in self._settled.items() if now_s - settled_s >= since_s]


@contextmanager
def quiet_watcher_logs(level: int = logging.ERROR):
    """Raise Watcher's log level for a while: offline, its per-instance warnings (no RAM or
    disk metrics, flavour values used instead) are expected and only noise."""
    logger = logging.getLogger("watcher")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def load_strategy(name: str):
    """The strategy ``name`` as Watcher's decision engine loads it (entry point and options)."""
    from oslo_config import cfg
    from watcher.common import exception
    from watcher.decision_engine.loading import default as loading

    if getattr(cfg.CONF, "_args", None) is None:  # not parsed yet: no command line, no config files
        cfg.CONF([], project="watcher", default_config_files=[])
    loader = loading.DefaultStrategyLoader()
    try:
        return loader.load(name, osc=None)
    except exception.LoadingError:
        installed = ", ".join(sorted(loader.list_available())) or "none"
        raise ValueError(f"Watcher cannot load a strategy named {name!r}; installed strategies: {installed}") from None


def run_strategy(name: str, fleet: Fleet, parameters: dict | None = None, model=None,
                 datasource: FleetDatasource | None = None, fleet_power: bool = True,
                 cloud: FleetCloud | None = None) -> StrategyRun:
    """Load strategy ``name``, run ``execute()`` on ``fleet`` (or on ``model`` built from it).

    ``parameters`` are the audit's (checked against the strategy's schema, defaults filled
    in; a bad one raises Watcher's validation error naming it). ``datasource`` defaults to
    the fleet's measured CPU. With ``fleet_power``, ``[geyser_power] host_models`` gives
    every host its own power model from the fleet during the run (Watcher's strategies
    have no power models and ignore it). ``cloud`` answers our strategies' look-ups
    (``FleetCloud(fleet)`` by default; a test hands in one with shelved instances or bare metal).
    """
    from oslo_config import cfg
    from watcher.common import utils

    from watcher_geyser.strategies import opts

    strategy = load_strategy(name)
    params = dict(parameters or {})
    schema = strategy.get_schema()
    if schema:
        utils.StrictDefaultValidatingDraft4Validator(schema).validate(params)
    strategy.input_parameters.update(params)
    strategy.audit_scope = []
    strategy._compute_model = model if model is not None else model_builder.model_from_fleet(fleet)
    datasource = datasource or FleetDatasource(fleet)
    strategy._datasource_backend = datasource  # where Watcher caches its DataSourceManager's backend
    if hasattr(strategy, "cloud"):  # ours: zones, server groups and bare metal through this interface
        strategy.cloud = cloud if cloud is not None else FleetCloud(fleet)
    if fleet_power:
        opts.register_power_opts(cfg.CONF)
        cfg.CONF.set_override("host_models", model_builder.power_overrides(fleet), group=opts.POWER_GROUP)
    try:
        phases = _time_phases(strategy)
        started = time.perf_counter()
        solution = strategy.execute()
        seconds = time.perf_counter() - started
    finally:
        if fleet_power:
            cfg.CONF.clear_override("host_models", group=opts.POWER_GROUP)
    return StrategyRun(name, solution, strategy, seconds, datasource, phases)


def _time_phases(strategy) -> dict[str, float]:
    """Time each phase ``execute()`` calls, on this strategy object only; the dict fills as they run."""
    phases: dict[str, float] = {}
    for phase in ("pre_execute", "do_execute", "post_execute"):
        method = getattr(strategy, phase)

        def timed(*args, _method=method, _phase=phase, **kwargs):
            started = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                phases[_phase] = round(time.perf_counter() - started, 4)

        setattr(strategy, phase, timed)
    return phases


# --- reading the answer back ---------------------------------------------------------------
def solution_actions(actions: list[dict]) -> list[Action]:
    """Watcher actions -> our planner's ``Action`` (migrations and host actions; others dropped)."""
    out = []
    for a in actions:
        p = a.get("input_parameters", {})
        kind = a.get("action_type")
        if kind == MIGRATE:
            live = p.get("migration_type", "live") == "live"
            out.append(Action(ActionKind.LIVE_MIGRATE if live else ActionKind.COLD_MIGRATE,
                              instance=p["resource_id"], source=p.get("source_node"),
                              destination=p.get("destination_node"), instance_name=p.get("resource_name")))
        elif kind == SERVICE_STATE:
            enable = p.get("state") == "enabled"
            out.append(Action(ActionKind.ENABLE if enable else ActionKind.DISABLE, host=p.get("resource_name")))
        elif kind in POWER_ACTIONS:
            on = p.get("state") == "on"
            out.append(Action(ActionKind.POWER_ON if on else ActionKind.POWER_OFF, host=p.get("resource_name")))
    return out


def weight_planner_waves(actions: list[dict]) -> list[list[dict]]:
    """Actions grouped as Watcher's ``weight`` planner (default options) would run them.

    Watcher's own ``WeightPlanner.compute_action_graph`` builds the graph; each group holds
    the actions whose parents have all finished at the same time (the graph's depth).
    """
    from watcher.common import utils
    from watcher.decision_engine.planner import weight

    planner = weight.WeightPlanner(utils.Struct(weights=dict(weight.WeightPlanner.action_weights),
                                                parallelization=dict(weight.WeightPlanner.parallelization)))
    nodes = [_GraphAction(i, a) for i, a in enumerate(actions)]
    by_weight: dict[int, list[_GraphAction]] = defaultdict(list)
    for node in nodes:
        by_weight[planner.config.weights[node.action_type]].append(node)
    graph = planner.compute_action_graph(sorted(by_weight.items(), key=lambda kv: kv[0], reverse=True))
    depth: dict[str, int] = {}
    by_uuid = {n.uuid: n for n in graph.nodes()}
    for node in _topological(graph):
        depth[node.uuid] = 1 + max((depth[p] for p in by_uuid[node.uuid].parents), default=-1)
    waves: dict[int, list[dict]] = defaultdict(list)
    for node in nodes:
        waves[depth[node.uuid]].append(node.action)
    return [waves[d] for d in sorted(waves)]


class _GraphAction:
    """The little of ``objects.Action`` that ``compute_action_graph`` reads: type, uuid, parents."""

    __slots__ = ("action", "action_type", "parents", "uuid")

    def __init__(self, index: int, action: dict):
        self.action = action
        self.action_type = action["action_type"]
        self.uuid = f"action-{index}"
        self.parents: list[str] = []


def _topological(graph):
    import networkx as nx

    return nx.topological_sort(graph)


@dataclass(frozen=True)
class Overloads:
    """What a replay of waves found: migrations landing on a host over its limit, and where."""

    migrations: int  # migrations whose destination is over its limit at its step's worst moment
    steps: int  # steps (waves) with at least one such host
    violations: tuple  # every rule ``planner.replay`` saw broken (capacity and others)


def overloads(fleet: Fleet, waves: list[list[dict]], limits: np.ndarray | None = None) -> Overloads:
    """Replay Watcher actions grouped in ``waves`` (each run at once, both ends of a migration
    charged until it ends) with ``planner.replay`` and count the overloading migrations.

    ``limits`` as ``planner.transit_limits`` builds them; by default every host's capacity
    under its allocation ratios and its cores for measured CPU.
    """
    from watcher_geyser.planner import replay, transit_limits

    limits = transit_limits(fleet, 1.0, 1.0) if limits is None else limits
    steps = [solution_actions(w) for w in waves]
    result = replay(fleet, steps, limits)
    over = {(v.wave, v.host) for v in result.violations if v.rule == "capacity"}
    count = sum(1 for w, step in enumerate(steps) for a in step if a.kind.is_migration and (w, a.destination) in over)
    return Overloads(count, len({w for w, _ in over}), tuple(result.violations))


def placement_after(fleet: Fleet, actions: list[Action]) -> np.ndarray:
    """Host index per instance after the migrations in ``actions``, applied in order."""
    placement = fleet.placement.copy()
    for a in actions:
        if a.kind.is_migration:
            placement[fleet.instance_index[a.instance]] = fleet.host_index(a.destination)
    return placement
