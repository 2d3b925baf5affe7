"""What this audit asks of the core: the pipeline's settings, after the energy signal.

The seam between the Watcher strategy and the signal policy. In order:

1. the audit's ``power_budget_w`` / ``cpu_ceiling`` parameters, when set, win (an
   operator's explicit request): the signal is not read;
2. otherwise the signal: the source the audit's ``signal_source`` names among those the
   operator configured (``[geyser_signal] named_sources``; empty: ``[geyser_signal] source``;
   a URL, a file or an unknown name is refused: safe default), read and decided by
   ``watcher_geyser.signal.SignalPolicy`` (hysteresis, forecast, last-good and
   safe-default fallbacks, state kept in ``[geyser_signal] state_file``), and mapped onto
   the settings by ``pipeline.apply_decision``, as in the simulator;
3. no signal configured: the signal-blind settings.

``pipeline.apply_decision`` keeps the signal's ceiling within ``ceiling_min`` ..
``ceiling_max`` and allows power-off only when the audit asks for it *and* the decision
allows it *and* the decision is not a fallback. ``decide_energy`` never raises.
``EnergyDecision.energy`` is what deferral reads (docs/design/deferral.md): the signal's
scarcity and fallback; without a signal, or with the audit's own limits, "as without a
signal" (deferrable instances run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from oslo_config import cfg

from watcher_geyser.deferral import Energy
from watcher_geyser.fleet import Fleet
from watcher_geyser.pipeline import Settings, apply_decision


@dataclass(frozen=True)
class EnergyDecision:
    """The settings to run, and how they were chosen."""

    settings: Settings
    reason: str
    fallback: bool = False  # a signal was wanted but could not be used
    source: str = ""
    energy: Energy = Energy.blind()  # what deferral reads: the signal's scarcity, or "as without a signal"

    @property
    def budget_w(self) -> float | None:
        return self.settings.limits.supply_w

    @property
    def ceiling(self) -> float:
        """The ceiling the signal moves: CPU use where measured, else allocation."""
        limits = self.settings.limits
        return limits.ceiling if limits.cpu_ceiling is None else limits.cpu_ceiling

    @property
    def allow_power_off(self) -> bool:
        return self.settings.plan.allow_power_off


def decide_energy(params, fleet: Fleet | Callable[[], Fleet], conf: cfg.ConfigOpts, settings: Settings,
                  now_s: float | None = None) -> EnergyDecision:
    """``settings`` (from the audit's parameters) after the signal, or unchanged when the audit overrides it.

    ``fleet`` is what the supply is weighed against (its draw now, its peak watts), or a function
    that builds it: called only when a signal is read, so the strategy reads its instances' load now
    only then (``fleet_source``); if it raises, the decision is the safe default, as for a signal error."""
    now_s = time.time() if now_s is None else now_s
    if params.power_budget_w is not None or params.cpu_ceiling is not None:
        reason = f"audit parameters: available power {_watts(params.power_budget_w)}, CPU ceiling " \
                 f"{_fraction(settings.limits.cpu_ceiling)}"
        return EnergyDecision(settings, reason, source="audit parameters")
    try:
        return _from_signal(params, fleet, conf, settings, now_s)
    except Exception as exc:  # noqa: BLE001 - the audit must succeed whatever the signal layer does
        safe = settings.with_plan(allow_power_off=False)
        reason = f"signal unusable ({type(exc).__name__}: {exc}); safe default: signal-blind settings, " \
                 "no host switched off"
        return EnergyDecision(safe, reason, fallback=True, source="error")


def _from_signal(params, fleet: Fleet | Callable[[], Fleet], conf: cfg.ConfigOpts, settings: Settings,
                 now_s: float) -> EnergyDecision:
    from watcher_geyser.signal import (
        PolicyState,
        Series,
        SignalError,
        SignalPolicy,
        fleet_need_w,
        fleet_peak_w,
        load_state,
        read_safely,
        save_state,
    )
    from watcher_geyser.signal import opts as signal_opts

    signal_opts.register_opts(conf)
    group = conf[signal_opts.GROUP]
    try:
        chosen = signal_opts.audit_source(conf, params.signal_source)
    except SignalError as exc:
        return EnergyDecision(settings.with_plan(allow_power_off=False),
                              f"{exc}; safe default: signal-blind settings, no host switched off",
                              fallback=True, source="refused")
    if chosen is None:
        return EnergyDecision(settings, f"no energy signal configured: signal-blind CPU ceiling "
                              f"{_fraction(settings.limits.cpu_ceiling)}", source="none")
    fleet = fleet() if callable(fleet) else fleet
    key = _describe(chosen[1])
    state, state_note = (PolicyState(source=key), None)
    if group.state_file:
        state, state_note = load_state(group.state_file, key)
    policy = SignalPolicy(signal_opts.policy_config(conf), state)
    observation = read_safely(chosen[1], now_s)  # read once: the decision and deferral's forecast
    peak_w, need_w = fleet_peak_w(fleet), fleet_need_w(fleet)
    decision = policy.decide(observation, now_s, peak_w, key, need_w=need_w)
    if group.state_file:
        save_state(group.state_file, policy.state)
    reason = decision.reason + (f" ({state_note})" if state_note else "")
    series = observation if isinstance(observation, Series) else None
    idle_w = min((float(h.power.idle_w) for h in fleet.hosts), default=None)
    running = sum(1 for i in fleet.instances if i.claim_of is None)  # a claim is room held, not one more instance
    energy = Energy.from_decision(decision, series, need_w, running, peak_w, idle_w)
    return EnergyDecision(apply_decision(settings, decision), reason, fallback=decision.fallback is not None,
                          source=decision.source, energy=energy)


def _describe(source) -> str:
    try:
        return source.describe()
    except Exception:  # noqa: BLE001 - the same fallback name decide_from uses
        return type(source).__name__


def _watts(value: float | None) -> str:
    return "none" if value is None else f"{value:.0f} W"


def _fraction(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"
