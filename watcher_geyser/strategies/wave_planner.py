"""``geyser`` Watcher planner: our plan's waves become Watcher's action graph, order kept.

Watcher's default ``weight`` planner orders actions by type (service changes, then
migrations two at a time, power actions last) and never looks at capacity, so a plan that
is safe only in its own order (power on and enable before the migrations that need the
host; migration B only after A has made room; disable and power off after the host is
empty) would be run unsafely. This planner keeps the order the strategy decided: every
action of wave k+1 has every action of wave k as parent, actions of one wave run
together (the strategy already capped each wave at the configured parallelism).

A solution without wave information (another strategy choosing this planner) is run one
action at a time in the strategy's order: slow, but never in an order nobody checked.
"""

from __future__ import annotations

from oslo_log import log
from watcher import objects
from watcher.common import utils
from watcher.decision_engine.planner import base

LOG = log.getLogger(__name__)


def group_by_wave(actions: list[dict], waves: list[int] | None) -> list[list[dict]]:
    """Actions grouped by wave index, waves in increasing order (empty waves dropped)."""
    if waves is None or len(waves) != len(actions):
        return [[a] for a in actions]
    grouped: dict[int, list[dict]] = {}
    for action, wave in zip(actions, waves):
        grouped.setdefault(int(wave), []).append(action)
    return [grouped[w] for w in sorted(grouped)]


class WavePlanner(base.BasePlanner):
    """Runs a strategy's actions wave by wave; see the module docstring."""

    def schedule(self, context, audit_id, solution):
        action_plan = self._create_action_plan(context, audit_id, solution)
        waves = getattr(solution, "waves", None)
        if waves is None:
            LOG.warning("solution of %s carries no waves: its actions run one at a time", solution.strategy.name)
        layers = group_by_wave(list(solution.actions), waves)
        parents: list[str] = []
        for layer in layers:
            created = []
            for action in layer:
                db_action = objects.Action(
                    context,
                    uuid=utils.generate_uuid(),
                    action_plan_id=action_plan.id,
                    action_type=action["action_type"],
                    input_parameters=action["input_parameters"],
                    state=objects.action.State.PENDING,
                    parents=list(parents),
                )
                db_action.create()
                created.append(db_action.uuid)
            parents = created
        self._create_efficacy_indicators(context, action_plan.id, solution.efficacy_indicators)
        if not layers:
            LOG.info("the action plan of audit %s is empty", audit_id)
            action_plan.state = objects.action_plan.State.SUCCEEDED
            action_plan.save()
        return action_plan

    @staticmethod
    def _create_action_plan(context, audit_id, solution):
        strategy = objects.Strategy.get_by_name(context, solution.strategy.name)
        action_plan = objects.ActionPlan(
            context,
            uuid=utils.generate_uuid(),
            audit_id=audit_id,
            strategy_id=strategy.id,
            state=objects.action_plan.State.RECOMMENDED,
            global_efficacy=solution.global_efficacy,
        )
        action_plan.create()
        return action_plan

    @staticmethod
    def _create_efficacy_indicators(context, action_plan_id, indicators):
        for indicator in indicators:
            objects.EfficacyIndicator(
                context,
                uuid=utils.generate_uuid(),
                name=indicator.name,
                description=indicator.description,
                unit=indicator.unit,
                value=indicator.value,
                action_plan_id=action_plan_id,
            ).create()
