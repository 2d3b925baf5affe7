"""Our own goal, ``energy_budget``: fit the fleet to the energy available, in watts.

Watcher's ``saving_energy`` goal has no efficacy indicators at all, so an operator sees
nothing of what an action plan would save. This goal's indicators answer the questions
an operator asks before pressing "start": how many watts now, how many after, what the
budget was, how many hosts are released and how many instances move. Indicators are
numbers (Watcher stores them as such); ``power_budget_w`` is present only when there is
a budget.
"""

from __future__ import annotations

from watcher._i18n import _
from watcher.decision_engine.goal import base
from watcher.decision_engine.goal.efficacy import base as efficacy_base
from watcher.decision_engine.goal.efficacy import indicators
from watcher.decision_engine.solution import efficacy

GOAL_NAME = "energy_budget"


class _Watts(indicators.IndicatorSpecification):
    NAME = ""
    DESCRIPTION = ""
    REQUIRED = True

    def __init__(self):
        super().__init__(name=self.NAME, description=self.DESCRIPTION, unit="W", required=self.REQUIRED)

    @property
    def schema(self):
        return {"type": "number", "minimum": 0}


class WattsBefore(_Watts):
    NAME = "watts_before"
    DESCRIPTION = _("Estimated watts of the compute hosts as they are now.")


class WattsAfter(_Watts):
    NAME = "watts_after"
    DESCRIPTION = _("Estimated watts of the compute hosts once the action plan has run.")


class PowerBudget(_Watts):
    NAME = "power_budget_w"
    DESCRIPTION = _("The power budget the plan was asked to meet (absent: no budget).")
    REQUIRED = False


class EnergyBudgetSpec(efficacy_base.EfficacySpecification):
    def get_indicators_specifications(self):
        return [
            WattsBefore(),
            WattsAfter(),
            PowerBudget(),
            indicators.ComputeNodesCount(),
            indicators.ReleasedComputeNodesCount(),
            indicators.InstanceMigrationsCount(),
        ]

    def get_global_efficacy_indicator(self, indicators_map=None):
        value = 0.0
        if indicators_map and indicators_map.get("watts_before", 0) > 0:
            saved = indicators_map.watts_before - indicators_map.watts_after
            value = max(0.0, saved / indicators_map.watts_before * 100.0)
        return [
            efficacy.Indicator(
                name="watts_saved_ratio",
                description=_("Share of the current watts the action plan saves."),
                unit="%",
                value=value,
            )
        ]


class EnergyBudget(base.Goal):
    """Energy budget

    Fit the compute fleet to the energy available: consolidate instances onto fewer hosts
    and switch the emptied ones off when energy is scarce, relax the packing and bring
    hosts back when it is plentiful.
    """

    @classmethod
    def get_name(cls):
        return GOAL_NAME

    @classmethod
    def get_display_name(cls):
        return _("Energy budget")

    @classmethod
    def get_translatable_display_name(cls):
        return "Energy budget"

    @classmethod
    def get_efficacy_specification(cls):
        return EnergyBudgetSpec()
