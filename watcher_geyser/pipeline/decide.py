"""The signal's ``Decision`` -> the pipeline's ``Settings``: the one place the signal is mapped.

Both shells (the Watcher strategy, the simulator's geyser policy) and ``geyser plan`` call
``apply_decision``, so the same decision asks the same of the solver everywhere:

- the decision's ceiling caps **CPU use** (``Limits.cpu_ceiling``, kept within
  ``signal_ceiling_min`` .. ``signal_ceiling_max``); the relief ceiling follows it by the
  decision's ``relief_margin`` (the settings' own when the decision has none: a fallback), and
  each host packs to at most ``1 - its margin`` (the decision's ``host_margin_k``,
  ``pipeline/margin.py``), so the scarce end is thin on big, smooth hosts and wide on small ones.
  Where the shell has no CPU measure (``cpu_ceiling`` None) scarcity moves the allocation
  ceiling (``Limits.ceiling``) instead (``allocation_ceiling``), never above the operator's;
- the decision's available watts become ``Limits.supply_w`` (the solver prices watts above it);
- power-off needs all three: the caller allows it, the decision allows it, and the decision
  is not a fallback (a last good value or the safe default never switches hosts off).

And which CPU the shells place on at a decision (``reads_load_now``): the peak of the last
``defaults.CPU_FORECAST_WINDOW`` samples, or while energy is fully scarce the load now.
"""

from __future__ import annotations

from watcher_geyser import defaults
from watcher_geyser.pipeline.settings import Settings
from watcher_geyser.signal.decision import Decision


def apply_decision(settings: Settings, decision: Decision) -> Settings:
    """``settings`` with the decision's ceiling, supply and power-off gate applied."""
    limits = settings.limits
    ceiling = limits.clamp_signal_ceiling(decision.ceiling)
    if limits.cpu_ceiling is not None:
        margin = limits.relief_margin if decision.relief_margin is None else decision.relief_margin
        settings = settings.with_limits(cpu_ceiling=ceiling, relief_margin=margin, supply_w=decision.budget_w,
                                        host_margin_k=decision.host_margin_k)
    else:
        settings = settings.with_limits(ceiling=allocation_ceiling(settings, decision), supply_w=decision.budget_w)
    power_off = settings.plan.allow_power_off and decision.allow_power_off and decision.fallback is None
    notes = []
    if settings.plan.allow_power_off and not power_off:
        why = "the signal fell back" if decision.fallback is not None else "energy is plentiful"
        notes.append(f"no host is switched off: {why}")
    return settings.with_plan(allow_power_off=power_off).noted(*notes)


def allocation_ceiling(settings: Settings, decision: Decision) -> float:
    """The allocation ceiling a decision asks for where no CPU is measured: from the signal's lower
    bound (``signal_ceiling_min``) when energy is plentiful (level 0) to the operator's allocation
    ceiling when it is scarce (level 1), by the decision's scarcity level.

    Why not the decision's ceiling itself: it caps CPU *use* with head-room for bursts (the scarce
    end packs to 0.8 of the load now), and taken as a cap on allocation it would keep a scarce fleet
    looser than a signal-blind one, which packs allocation to the operator's ceiling."""
    top = settings.limits.ceiling
    low = min(settings.limits.signal_ceiling_min, top)
    return low + min(max(decision.level, 0.0), 1.0) * (top - low)


def reads_load_now(level: float) -> bool:
    """Whether a decision of scarcity ``level`` places instances on their load now (one sample,
    ``defaults.CPU_SCARCE_WINDOW``) rather than on the peak of their last
    ``defaults.CPU_FORECAST_WINDOW`` samples: when energy is fully scarce (level 1). The simulator's
    forecast (``GeyserPolicy._forecast``) and the Watcher strategy's datasource read
    (``strategies.metrics.cpu_read``) both ask this, so the plugin reads what the simulator measured.
    Why the load now: every watt then goes uncovered, and the head-room sits in each host's margin
    (``pipeline/margin.py``), sized by how smooth the host's summed load is."""
    return level >= 1.0


def cpu_window(level: float, window: int = defaults.CPU_FORECAST_WINDOW,
               scarce_window: int = defaults.CPU_SCARCE_WINDOW) -> int:
    """Samples (the newest included) whose peak an instance is placed on at a decision of scarcity ``level``."""
    return min(window, scarce_window) if reads_load_now(level) else window
