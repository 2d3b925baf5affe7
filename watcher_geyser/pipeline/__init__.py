"""The one request to the core, shared by every shell (Watcher strategy, simulator, ``geyser plan``).

- ``Settings`` (``Limits``, ``SolveSettings``, ``PlanSettings``): frozen data, defaults from
  ``watcher_geyser.defaults``;
- ``apply_decision(settings, decision)``: the signal's decision mapped onto the settings,
  power-off gated (the only place the signal is mapped); ``reads_load_now(level)``: whether a
  decision places on the load now or on the recent peak (the CPU both shells read);
- ``run(fleet, settings) -> Result(target, plan, settings)``: problem, solve, plan;
- ``CycleBudget``: the per-host power-cycle budget; its ``Hold`` feeds ``Limits.keep_off``/``keep_on``.

Pure core: imports nothing from OpenStack.
"""

from watcher_geyser.pipeline.cycles import CycleBudget, Hold
from watcher_geyser.pipeline.decide import apply_decision, cpu_window, reads_load_now
from watcher_geyser.pipeline.request import Result, anchor, problem, run
from watcher_geyser.pipeline.settings import DEFAULTS, Limits, PlanSettings, Settings, SolveSettings

__all__ = [
    "DEFAULTS",
    "CycleBudget",
    "Hold",
    "Limits",
    "PlanSettings",
    "Result",
    "Settings",
    "SolveSettings",
    "anchor",
    "apply_decision",
    "cpu_window",
    "problem",
    "reads_load_now",
    "run",
]
