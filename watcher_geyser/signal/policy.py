"""From an availability signal to the two numbers the solver takes: a power budget and a ceiling.

The rule, in four steps:

1. **Read the window.** Over ``[now, now + horizon_s]`` take the worst value (the minimum
   of watts, fraction or renewable share; the maximum of carbon intensity), or the mean,
   or only the present point (``aggregate``). A forecast thus lets the fleet prepare
   before a drop instead of reacting after it.
2. **Map to a scarcity level** ``s`` in [0, 1] (0 = plenty, 1 = scarce) and an
   availability position ``p = 1 - s``. Watts (and fractions, of the fleet's peak) are
   measured against **what the fleet needs now** (``need_w``: the watts it draws as placed
   now): ``s`` falls linearly from 1 at ``available = scarce_ratio x need`` to 0 at
   ``plenty_ratio x need``. Not against the nameplate peak: a consolidated fleet draws a
   small share of its peak (4-8 kW of 100.8 kW on a PlanetLab day), so any supply sized
   to real demand would read as scarce for ever. A caller that does not know the draw
   (``need_w`` None) gets the older rule, ``available / fleet peak`` through
   ``scarce_fraction`` .. ``plenty_fraction``. A renewable share or a carbon intensity is
   mapped through its own two thresholds.
   The **ceiling** is ``PolicyConfig.ceiling_at(s)``: ``relaxed_ceiling`` when plentiful,
   ``neutral_ceiling`` (the signal-blind ceiling) halfway, ``tight_ceiling`` (beyond
   blind) when scarce. The **budget** is the available watts (for watts and fractions,
   always: the solver prices watts above it, so a plentiful supply costs nothing), or for
   carbon and renewable units ``peak * (1 - s * (1 - scarce_budget_fraction))`` when that
   option is set and None otherwise.
3. **Hysteresis.** A new decision replaces the held one only if its position differs by at
   least ``dead_band`` (or it reaches an end of the range, fully scarce or fully plentiful,
   that the held one does not) and the held one is at least ``min_dwell_s`` old (with
   ``tighten_immediately``, a scarcer decision skips the dwell). What is held is the
   ceiling, the level and power-off; the budget always follows the reading: it is the
   supply, which the solver prices, and a held one would claim watts that are gone.
4. **Failure.** When the source failed or its series does not cover ``now``, the last good
   reading *of the same source* is used while it is younger than ``ttl_s``; after that the
   safe default (``safe_budget_w``, ``safe_ceiling``). Neither ever allows power-off (nor
   shelving, which follows ``fallback``). ``decide`` never raises: an unexpected error also
   yields the safe default, and ``Decision.reason`` always says which value was used and why.
5. **Suspicion.** A watts or fraction reading below ``suspicious_fraction`` of what the
   fleet draws now (``need_w``; its nameplate peak when the draw is not known), 0 W
   included, is more likely a broken meter than a real outage: it may tighten the packing,
   but it allows power-off only once the source has read that low for ``min_dwell_s``
   (by this policy's memory, or by the series' own readings over the dwell;
   ``Fallback.UNCONFIRMED`` until then), and a decision held from such a reading gives way
   to the next plausible one at once. A broken meter drops at once, a supply running out
   at dusk falls: a low reading the series reached by a gradual fall (``suspicion.py``:
   over the dwell before it, three steps or more, none losing over half the level the
   dwell began at, the last from under three times the low mark) is confirmed at once,
   and the reason says which case applied. Without it every dusk held emptied hosts on
   for the dwell.

The memory (``PolicyState``) belongs to one source: a state of another source is set aside
(neither held decision nor last good value is used) and the reason says so.

Pure: imports nothing from OpenStack; state lives in ``PolicyState`` for the caller to keep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from watcher_geyser.inputs import iso
from watcher_geyser.signal.decision import AGGREGATES, Decision, Fallback, PolicyConfig
from watcher_geyser.signal.series import Series, SignalError, Unit
from watcher_geyser.signal.state import PolicyState
from watcher_geyser.signal.suspicion import first_low, gradual_fall, is_low, low_run

__all__ = ["AGGREGATES", "Decision", "Fallback", "PolicyConfig", "SignalPolicy", "fleet_need_w", "fleet_peak_w"]


@dataclass(frozen=True)
class _Reading:
    value: float
    value_now: float
    unit: Unit
    origin: str
    detail: str
    notes: tuple[str, ...] = ()
    window: tuple[int, int] | None = None  # the series' points read (i0 <= i < i1); None: a remembered value


@dataclass(frozen=True)
class _Mapped:
    position: float
    level: float
    budget_w: float | None
    ceiling: float


class SignalPolicy:
    """Stateful decider; ``state`` (a ``PolicyState``) is what to persist between calls."""

    def __init__(self, config: PolicyConfig | None = None, state: PolicyState | None = None) -> None:
        self.config = config or PolicyConfig()
        self.state = state or PolicyState()
        self.set_aside: str | None = None  # the source whose memory the last decision set aside
        self._need_w: float | None = None  # what the fleet draws now, for this decision

    def decide(
        self,
        observation: Series | BaseException | None,
        now_s: float,
        fleet_peak_w: float | None = None,
        source: str = "",
        need_w: float | None = None,
    ) -> Decision:
        """Decide at ``now_s`` from a series, or from the error its source raised (None: no read).

        ``fleet_peak_w`` (sum of the hosts' max watts) is needed by watts and fraction
        units; ``need_w`` (the watts the fleet draws now, ``fleet_need_w``) is what their
        scarcity is measured against. Never raises.
        """
        self._need_w = need_w if need_w is not None and math.isfinite(need_w) and need_w > 0 else None
        try:
            return self._decide(observation, float(now_s), fleet_peak_w, source)
        except Exception as exc:  # never crash the caller; say what happened instead
            return self._safe(now_s, source, f"internal error in the signal policy ({type(exc).__name__}: {exc})")

    def decide_from(self, source, now_s: float, fleet_peak_w: float | None = None,
                    need_w: float | None = None) -> Decision:
        """Read ``source`` (any object with ``read(now_s)`` and ``describe()``) and decide. Never raises."""
        try:
            name = source.describe()
        except Exception:
            name = type(source).__name__
        try:
            observation = source.read(now_s)
        except Exception as exc:  # a failing source is an input, not a crash
            observation = exc if isinstance(exc, SignalError) else SignalError(f"{name}: {describe_error(exc)}")
        return self.decide(observation, now_s, fleet_peak_w, name, need_w)

    def _decide(self, observation, now_s: float, fleet_peak_w: float | None, source: str) -> Decision:
        self.set_aside = None
        self._own(source)
        if not math.isfinite(now_s):
            return self._safe(now_s, source, f"the decision time {now_s} is not a finite number of seconds")
        self.state.touched_s = now_s
        failure = None
        reading = None
        if isinstance(observation, Series):
            try:
                reading = self._read(observation, now_s)
                source = source or observation.origin
            except SignalError as exc:
                failure = str(exc)
        elif isinstance(observation, BaseException):
            failure = describe_error(observation)
        else:
            failure = "no signal was read"
        fallback = None
        if reading is None:
            reading, why = self._last_good(now_s)
            if reading is None:
                return self._safe(now_s, source, f"source failed: {failure}; {why}")
            fallback = Fallback.LAST_GOOD
            detail = f"source failed: {failure}; {why}"
        else:
            detail = reading.detail
        if fleet_peak_w is not None and not (fleet_peak_w > 0 and math.isfinite(fleet_peak_w)):
            fleet_peak_w = None
        try:
            mapped = self._map(reading, fleet_peak_w)
        except SignalError as exc:
            return self._safe(now_s, source or reading.origin, str(exc))
        if fallback is None:
            self._remember(reading, now_s)
            suspicion, confirmed = self._suspicion(reading, fleet_peak_w, now_s,
                                                   observation if isinstance(observation, Series) else None)
            if suspicion is not None:
                fallback = Fallback.UNCONFIRMED
                detail = f"{detail}; {suspicion}"
            elif confirmed is not None:
                detail = f"{detail}; {confirmed}"
        return self._hysteresis(reading, mapped, now_s, source or reading.origin, fallback, detail)

    def _own(self, key: str) -> None:
        """Set aside a memory that belongs to another source: never a fallback or a hold for this one.

        An observation without a name (``key`` empty: ``decide`` called without ``source``) is
        taken as the same caller's source; ``decide_from`` always names it."""
        st = self.state
        if st.source == key or not key:
            return
        if not st.source and st.held_position is None and st.last_good_value is None:
            st.source = key  # a fresh memory takes the first source it meets
            return
        if st.held_position is not None or st.last_good_value is not None:
            self.set_aside = st.source
        self.state = PolicyState(source=key)

    def _suspicion(self, reading: _Reading, fleet_peak_w: float | None, now_s: float,
                   series: Series | None = None) -> tuple[str | None, str | None]:
        """(why this reading may not switch hosts off yet, or None; a note when a low one is confirmed).

        Low means under ``suspicious_fraction`` of what the fleet draws now (``need_w``; its
        nameplate peak when the draw is not known), or 0 W: the yardstick is the draw because
        a real supply that falls through the evening is far under 5 % of an 800-host fleet's
        nameplate long before it is under what the consolidated fleet needs, and holding those
        real readings as unconfirmed kept geyser from acting at every dusk. Confirmed once the
        source has read that low for ``min_dwell_s``: by this policy's own memory, or by the
        series' own readings (two points or more, no gap) that cover the dwell up to now, as a
        range query returns them. Confirmed at once when the series reached it by a gradual
        fall (``suspicion.gradual_fall``): a broken meter drops at once, a dusk falls; once a
        low run is so confirmed it stays confirmed while it lasts."""
        st, cfg = self.state, self.config
        yardstick_w = self._need_w if self._need_w is not None else fleet_peak_w
        low_w = None
        if reading.unit is Unit.WATTS and yardstick_w:
            low_w = cfg.suspicious_fraction * yardstick_w
        elif reading.unit is Unit.FRACTION and fleet_peak_w and yardstick_w:
            low_w = cfg.suspicious_fraction * yardstick_w / fleet_peak_w  # in the series' unit
        if low_w is None or not is_low(min(reading.value, reading.value_now), low_w):
            st.suspicious_since_s, st.low_fell_gradually = None, False
            return None, None
        if st.suspicious_since_s is None or st.suspicious_since_s > now_s:
            st.suspicious_since_s, st.low_fell_gradually = now_s, False
        i = series.covering(now_s) if series is not None else None
        run = low_run(series, i, low_w) if i is not None else None
        if run is not None:
            if run.after_plausible and run.start_s > st.suspicious_since_s:
                # the series read a plausible value since: the low run starts no earlier, and is judged afresh
                st.suspicious_since_s, st.low_fell_gradually = run.start_s, False
            if run.readings >= 2:  # two readings or more: the series' own word for how long it has been low
                st.suspicious_since_s = min(st.suspicious_since_s, run.start_s)
        age_s = now_s - st.suspicious_since_s
        if age_s >= cfg.min_dwell_s:
            return None, None
        yardstick = "the fleet's draw" if self._need_w is not None else "the fleet's peak watts"
        what = f"under {cfg.suspicious_fraction:g} of {yardstick}"
        how = "the series does not show how it fell"
        if st.low_fell_gradually:
            return None, f"low ({what}) but confirmed at once: it came by a gradual fall (low for {age_s:g} s)"
        start = run.start if run is not None else (first_low(series, *reading.window, low_w)
                                                   if series is not None and reading.window else None)
        if start is not None:
            fell, how = gradual_fall(series, start, low_w, cfg.min_dwell_s, reading.unit.symbol)
            if fell:
                st.low_fell_gradually = True
                return None, f"low ({what}) but confirmed at once: {how}"
        return (
            f"the reading is implausibly low ({what}): {how}; "
            f"no host switched off until it is confirmed for {cfg.min_dwell_s:g} s "
            f"(low for {age_s:g} s so far)"
        ), None

    # ---------------------------------------------------------------- step 1: window

    def _read(self, series: Series, now_s: float) -> _Reading:
        cfg = self.config
        i = series.covering(now_s)
        if i is None:
            span = f"{iso(series.start_s)} to {iso(series.end_s)}"
            raise SignalError(f"the series does not cover {iso(now_s)} (it spans {span})")
        value_now = float(series.values[i])
        end_s = now_s + cfg.horizon_s
        if cfg.aggregate == "now" or cfg.horizon_s == 0:
            return _Reading(value_now, value_now, series.unit, series.origin, f"value at {iso(now_s)}", series.notes,
                            (i, i + 1))
        i0 = i
        i1 = series.window_end(i0, end_s)
        window = series.values[i0:i1]
        if cfg.aggregate == "mean":
            value, how = float(window.mean()), "mean"
        elif series.unit.higher_is_better:
            value, how = float(window.min()), "minimum"
        else:
            value, how = float(window.max()), "maximum"
        covered_s = min(series.end_s, end_s) - now_s
        detail = f"{how} of {i1 - i0} point(s) over the next {cfg.horizon_s:g} s"
        if covered_s < cfg.horizon_s:
            detail += f" (the series covers only {covered_s:g} s of it)"
        return _Reading(value, value_now, series.unit, series.origin, detail, series.notes, (i0, i1))

    # ------------------------------------------------------------------ step 2: map

    def _map(self, reading: _Reading, fleet_peak_w: float | None) -> _Mapped:
        cfg = self.config
        v, unit = reading.value, reading.unit
        budget = None
        if unit in (Unit.WATTS, Unit.FRACTION):
            if fleet_peak_w is None and (unit is Unit.FRACTION or self._need_w is None):
                raise SignalError(f"a signal in {unit.symbol} needs the fleet's peak watts; pass fleet_peak_w")
            available_w = v if unit is Unit.WATTS else v * fleet_peak_w
            if self._need_w is not None:
                level = _ramp(available_w / self._need_w, cfg.scarce_ratio, cfg.plenty_ratio)
            else:
                level = _ramp(available_w / fleet_peak_w, cfg.scarce_fraction, cfg.plenty_fraction)
            budget = available_w
        else:
            if unit is Unit.RENEWABLE_PCT:
                level = _ramp(v, cfg.scarce_renewable_pct, cfg.plenty_renewable_pct)
            else:
                level = 1.0 - _ramp(v, cfg.plenty_carbon_g_per_kwh, cfg.scarce_carbon_g_per_kwh)
            if cfg.scarce_budget_fraction is not None and fleet_peak_w is not None and level > 0:
                budget = fleet_peak_w * (1.0 - level * (1.0 - cfg.scarce_budget_fraction))
        return _Mapped(1.0 - level, level, budget, cfg.ceiling_at(level))

    # ----------------------------------------------------------- step 3: hysteresis

    def _hysteresis(self, reading, mapped: _Mapped, now_s, source, fallback, detail) -> Decision:
        cfg, st = self.config, self.state
        hold_why = None
        unconfirmed = fallback is Fallback.UNCONFIRMED
        plausible_after_suspicious = st.held_suspicious and not unconfirmed and fallback is None
        if (st.held_position is not None and st.held_unit == reading.unit.value and st.held_ceiling is not None
                and not plausible_after_suspicious):
            age_s = now_s - (st.held_since_s if st.held_since_s is not None else now_s)
            delta = mapped.position - st.held_position
            tighter = mapped.level > st.held_level
            if abs(delta) < cfg.dead_band and not _reaches_an_end(mapped.level, st.held_level):
                hold_why = f"change of {delta:+.3f} in availability is within the dead band ±{cfg.dead_band:g}"
            elif 0 <= age_s < cfg.min_dwell_s and not (cfg.tighten_immediately and tighter):
                hold_why = f"the held decision is {age_s:g} s old, under the minimum dwell of {cfg.min_dwell_s:g} s"
        value_text = f"{reading.value:g} {reading.unit.symbol} ({detail})"
        if hold_why is not None:
            # the ceiling and power-off are held; the budget is the supply, a soft target the solver
            # prices, so it follows the reading (a held one would claim watts that are gone)
            level, budget, ceiling = st.held_level, mapped.budget_w, st.held_ceiling
            reason = f"held the decision of {iso(st.held_since_s)}: {hold_why}; signal {value_text}"
        else:
            level, budget, ceiling = mapped.level, mapped.budget_w, mapped.ceiling
            st.held_position, st.held_level, st.held_budget_w = mapped.position, level, budget
            st.held_ceiling, st.held_unit, st.held_since_s = ceiling, reading.unit.value, now_s
            st.held_suspicious = unconfirmed
            reason = f"signal {value_text}"
        if fallback is Fallback.LAST_GOOD:
            reason = f"{detail}; using last good value {reading.value:g} {reading.unit.symbol}" + (
                f"; held: {hold_why}" if hold_why else ""
            )
        if fallback is not None:
            reason += "; no host switched off"
        if self.set_aside is not None:
            reason += f" (the policy memory of another source, {self.set_aside!r}, was set aside)"
        return Decision(
            at_s=now_s,
            budget_w=budget,
            ceiling=ceiling,
            level=level,
            consolidate=level > 0,
            allow_power_off=level > 0 and fallback is None,
            value=reading.value,
            value_now=reading.value_now,
            unit=reading.unit,
            source=source,
            fallback=fallback,
            held=hold_why is not None,
            reason=reason,
            proposed_budget_w=mapped.budget_w,
            proposed_ceiling=mapped.ceiling,
            relief_margin=cfg.relief_margin_at(level),
            host_margin_k=cfg.host_margin_k,
            notes=reading.notes,
        )

    # -------------------------------------------------------------- step 4: failure

    def _remember(self, reading: _Reading, now_s: float) -> None:
        st = self.state
        st.last_good_value, st.last_good_now_value = reading.value, reading.value_now
        st.last_good_unit, st.last_good_at_s, st.last_good_origin = reading.unit.value, now_s, reading.origin

    def _last_good(self, now_s: float) -> tuple[_Reading | None, str]:
        st, ttl_s = self.state, self.config.ttl_s
        if st.last_good_value is None or st.last_good_at_s is None or st.last_good_unit is None:
            return None, "no earlier good value to fall back on"
        age_s = now_s - st.last_good_at_s
        if age_s < 0:
            return None, f"the last good value is from the future ({iso(st.last_good_at_s)}); not used"
        if age_s > ttl_s:
            return None, f"the last good value is {age_s:g} s old, past the {ttl_s:g} s TTL"
        unit = Unit(st.last_good_unit)
        now_value = st.last_good_now_value if st.last_good_now_value is not None else st.last_good_value
        why = f"last good value read at {iso(st.last_good_at_s)} is {age_s:g} s old (TTL {ttl_s:g} s)"
        return _Reading(st.last_good_value, now_value, unit, st.last_good_origin, why), why

    def _safe(self, now_s: float, source: str, why: str) -> Decision:
        cfg, st = self.config, self.state
        st.held_position = None  # the next good reading applies at once
        budget = cfg.safe_budget_w
        note = f" (the policy memory of another source, {self.set_aside!r}, was set aside)" if self.set_aside else ""
        return Decision(
            at_s=float(now_s),
            budget_w=budget,
            ceiling=cfg.safe_ceiling_value,
            level=0.0,
            consolidate=False,
            allow_power_off=False,
            value=None,
            value_now=None,
            unit=None,
            source=source,
            fallback=Fallback.SAFE_DEFAULT,
            held=False,
            host_margin_k=cfg.host_margin_k,
            reason=(
                f"{why}; using the safe default (ceiling {cfg.safe_ceiling_value:g}, "
                f"budget {'none' if budget is None else f'{budget:g} W'}, no host switched off){note}"
            ),
        )


def _reaches_an_end(level: float, held_level: float) -> bool:
    """True when ``level`` is fully scarce (1) or fully plentiful (0) and the held level is not:
    the dead band never keeps a decision short of an end of the range.

    Why: the dead band stops flapping between neighbouring positions, but a supply that has
    gone to nothing (solar at dusk) or to plenty cannot flap any further that way; held
    0.03 short of scarce, the fleet would stay a notch less packed, and miss what only full
    scarcity switches on (the simulator's shorter forecast), for the whole night."""
    return level in (0.0, 1.0) and level != held_level


def _ramp(x: float, low: float, high: float) -> float:
    """1 at or below ``low``, 0 at or above ``high``, linear between."""
    if x <= low:
        return 1.0
    if x >= high:
        return 0.0
    return (high - x) / (high - low)


def describe_error(exc: BaseException) -> str:
    """A one-line reason for a source error (its message already names the source)."""
    text = str(exc).strip()
    if isinstance(exc, SignalError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def fleet_peak_w(fleet) -> float:
    """Watts of a fleet with every host on at full load (``Fleet.max_w`` summed)."""
    return float(fleet.max_w.sum())


def fleet_need_w(fleet) -> float:
    """Watts the fleet draws now, as placed, with the hosts that are on: what a supply is measured against."""
    return float(fleet.watts(fleet.placement, powered=fleet.powered))

