"""What this audit asks of the solver: the power budget, the packing ceiling, and power-off.

The seam between the Watcher strategy and the signal policy. In order:

1. the audit's ``power_budget_w`` / ``ceiling`` parameters, when set, win (an operator's
   explicit request);
2. otherwise the signal: the source the audit's ``signal_source`` names among those the
   operator configured (``[geyser_signal] named_sources``; empty: ``[geyser_signal] source``;
   a URL, a file or an unknown name is refused: safe default), read and decided by
   ``watcher_geyser.signal.SignalPolicy`` (hysteresis, forecast,
   last-good and safe-default fallbacks, state kept in ``[geyser_signal] state_file``);
3. no signal configured: no budget, ``ceiling_max``.

The ceiling is always kept within the audit's ``ceiling_min`` .. ``ceiling_max``. Power-off
is allowed only when the audit asks for it *and* the signal does not forbid it (the safe
default after a failed signal never switches hosts off). ``decide_energy`` never raises.
``EnergyDecision.energy`` is what deferral reads (docs/design/deferral.md): the signal's
scarcity and fallback; without a signal, or with the audit's own limits, "as without a
signal" (deferrable instances run).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from oslo_config import cfg

from watcher_geyser.deferral import Energy
from watcher_geyser.model import Fleet
from watcher_geyser.strategies.params import AuditParams


@dataclass(frozen=True)
class EnergyDecision:
    budget_w: float | None
    ceiling: float
    allow_power_off: bool
    reason: str
    fallback: bool = False  # a signal was wanted but could not be used
    source: str = ""
    energy: Energy = Energy.blind()  # what deferral reads: the signal's scarcity, or "as without a signal"


def decide_energy(params: AuditParams, fleet: Fleet, conf: cfg.ConfigOpts,
                  now_s: float | None = None) -> EnergyDecision:
    now_s = time.time() if now_s is None else now_s
    if params.power_budget_w is not None or params.ceiling is not None:
        ceiling = params.clamp_ceiling(params.ceiling if params.ceiling is not None else params.ceiling_max)
        budget = params.power_budget_w
        reason = f"audit parameters: budget {_watts(budget)}, ceiling {ceiling:.2f}"
        return EnergyDecision(budget, ceiling, params.power_off, reason, source="audit parameters")
    try:
        return _from_signal(params, fleet, conf, now_s)
    except Exception as exc:  # noqa: BLE001 - the audit must succeed whatever the signal layer does
        ceiling = params.ceiling_max
        reason = f"signal unusable ({type(exc).__name__}: {exc}); safe default: no budget, ceiling {ceiling:.2f}, " \
                 "no host switched off"
        return EnergyDecision(None, ceiling, False, reason, fallback=True, source="error")


def _from_signal(params: AuditParams, fleet: Fleet, conf: cfg.ConfigOpts, now_s: float) -> EnergyDecision:
    from watcher_geyser.signal import PolicyState, SignalError, SignalPolicy, fleet_peak_w, load_state, save_state
    from watcher_geyser.signal import opts as signal_opts

    signal_opts.register_opts(conf)
    group = conf[signal_opts.GROUP]
    try:
        chosen = signal_opts.audit_source(conf, params.signal_source)
    except SignalError as exc:
        ceiling = params.ceiling_max
        return EnergyDecision(None, ceiling, False, f"{exc}; safe default: no budget, ceiling {ceiling:.2f}, no host "
                              "switched off", fallback=True, source="refused")
    if chosen is None:
        ceiling = params.ceiling_max
        return EnergyDecision(None, ceiling, params.power_off,
                              f"no energy signal configured: no budget, ceiling {ceiling:.2f}", source="none")
    key = _describe(chosen[1])
    state, state_note = (PolicyState(source=key), None)
    if group.state_file:
        state, state_note = load_state(group.state_file, key)
    policy = SignalPolicy(signal_opts.policy_config(conf), state)
    decision = policy.decide_from(chosen[1], now_s, fleet_peak_w(fleet))
    if group.state_file:
        save_state(group.state_file, policy.state)
    ceiling = params.clamp_ceiling(decision.ceiling)
    reason = decision.reason + (f" ({state_note})" if state_note else "")
    return EnergyDecision(
        budget_w=decision.budget_w,
        ceiling=ceiling,
        allow_power_off=params.power_off and decision.allow_power_off,
        reason=reason,
        fallback=decision.fallback is not None,
        source=decision.source,
        energy=Energy.from_decision(decision),
    )


def _describe(source) -> str:
    try:
        return source.describe()
    except Exception:  # noqa: BLE001 - the same fallback name decide_from uses
        return type(source).__name__


def _watts(value: float | None) -> str:
    return "none" if value is None else f"{value:.0f} W"
