"""Policy specs on the command line: ``NAME`` or ``NAME:key=value,key=value``.

``geyser simulate --policy thr-mmt:threshold=0.9 --policy geyser:ceiling=0.85,signal=off`` runs
the same policy at several settings side by side, so a trade-off curve (energy or uncovered
energy against SLATAH) can be drawn from the CLI. Each policy declares its keys here with a
parser that checks type and range; an unknown key or a bad value is a ``ValueError`` that
names the valid keys, which the command turns into a one-line error (exit 2).

A spec's ``label`` (the name, plus the parameters as written) names the run in the table and
the report, so two runs of one policy stay apart.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watcher_geyser import defaults
from watcher_geyser.inputs import did_you_mean
from watcher_geyser.solver.portfolio import METHODS
from watcher_geyser.solver.problem import MAX_SWAP_PAYBACK_S


@dataclass(frozen=True)
class Param:
    """One key of a policy spec: the constructor keyword it sets and how its text is read."""

    key: str
    keyword: str  # the policy constructor's keyword argument
    parse: Callable[[str], Any]  # raises ValueError with what is wrong
    help: str


def number(lo: float, hi: float = math.inf, *, lo_open: bool = False, integer: bool = False) -> Callable[[str], Any]:
    """A parser for a number in [lo, hi] (or (lo, hi] with ``lo_open``)."""
    kind = "an integer" if integer else "a number"
    bounds = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if math.isinf(hi) else ']'}"

    def parse(text: str) -> Any:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not {kind}") from None
        if not math.isfinite(value) or value < lo or (lo_open and value == lo) or value > hi:
            raise ValueError(f"{text} is outside {bounds}")
        return value

    parse.describe = f"{kind} in {bounds}"  # type: ignore[attr-defined]
    return parse


def choice(*values: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in values:
            raise ValueError(f"{text!r} is not one of {', '.join(values)}")
        return text

    parse.describe = " or ".join(values)  # type: ignore[attr-defined]
    return parse


def on_off(text: str) -> bool:
    """``on``/``off`` (also true/false, yes/no, 1/0)."""
    lowered = text.lower()
    if lowered in ("on", "true", "yes", "1"):
        return True
    if lowered in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"{text!r} is not on or off")


on_off.describe = "on or off"  # type: ignore[attr-defined]

#: Policy name -> the keys its spec accepts (policies not listed take none).
PARAMS: dict[str, tuple[Param, ...]] = {
    "thr-mmt": (Param("threshold", "threshold", number(0.0, 1.0, lo_open=True), "overload threshold of host CPU"),),
    "lr-mmt": (
        Param("safety", "safety", number(0.0, lo_open=True), "safety factor on the regression's prediction"),
        Param("fallback", "fallback", number(0.0, 1.0, lo_open=True), "THR threshold while history is short"),
    ),
    "geyser": (
        Param("ceiling", "cpu_ceiling", number(0.0, 1.0, lo_open=True), "share of a host's MIPS forecast CPU may fill"),
        Param("relief_margin", "relief_margin", number(0.0, 1.0), "a host sheds when forecast passes ceiling + this"),
        Param("forecast_window", "forecast_window", number(1, 30, integer=True), "samples the CPU forecast looks back"),
        Param("time_limit_s", "time_limit_s", number(0.0, lo_open=True),
              f"solver time per step, seconds (default {defaults.SIM_TIME_LIMIT_S:g}: the day Watcher's 10 s makes; "
              "under 0.5 no ejection, "
              "swaps or neighbourhoods)"),
        Param("method", "method", choice(*METHODS), "solver method"),
        Param("max_moves", "max_consolidation_moves", number(0, integer=True), "consolidation moves per step"),
        Param("swap_payback_s", "swap_payback_s", number(0.0, MAX_SWAP_PAYBACK_S),
              "how long a placement stands, over which a swap must pay for its two migrations (0: no swaps; "
              "swaps run only when time_limit_s leaves room)"),
        Param("signal", "follow_signal", on_off, "follow --signal (off: signal-blind, still accounted against it)"),
        Param("relaxed", "relaxed_ceiling", number(0.0, 1.0, lo_open=True), "CPU ceiling when the supply is plentiful"),
        Param("tight", "tight_ceiling", number(0.0, 1.0, lo_open=True), "CPU ceiling when the supply is scarce"),
        Param("margin_k", "host_margin_k", number(0.0),
              "each host packs to at most 1 - k x its load's spread / its cores (pipeline/margin.py)"),
        Param("relaxed_margin", "relaxed_relief_margin", number(0.0, 1.0), "relief margin, plentiful supply"),
        Param("tight_margin", "tight_relief_margin", number(0.0, 1.0), "relief margin, scarce supply"),
        Param("scarce_ratio", "scarce_ratio", number(0.0), "supply / current draw at or below which it is scarce"),
        Param("plenty_ratio", "plenty_ratio", number(0.0), "supply / current draw at or above which it is plentiful"),
        Param("min_dwell_s", "min_dwell_s", number(0.0), "seconds a signal decision is held at least"),
        Param("scarce_window", "scarce_forecast_window", number(1, 30, integer=True),
              "samples the CPU forecast looks back while the supply is fully scarce"),
        Param("max_cycles", "max_power_cycles", number(1, integer=True),
              "power cycles (switch-offs) a host may make in any 24 h"),
        Param("parallelism", "parallelism", number(1, integer=True),
              f"migrations running at once (default {defaults.PARALLELISM} in realistic fidelity, Watcher's "
              "applier's; in cloudsim unlimited, as CloudSim starts every migration at once)"),
        Param("per_host_parallelism", "per_host_parallelism", number(1, integer=True),
              f"migrations touching one host at once (default {defaults.PER_HOST_PARALLELISM} in realistic "
              "fidelity, Nova's max_concurrent_live_migrations; in cloudsim unlimited)"),
    ),
    "watcher-vwc": (
        Param("period_s", "period_s", number(300.0), "window Watcher's datasource averages, seconds"),
        Param("cpu_allocation_ratio", "cpu_allocation_ratio", number(0.0, lo_open=True), "vcpu allocation ratio"),
    ),
}


@dataclass(frozen=True)
class PolicySpec:
    """A parsed ``--policy`` value: the policy's name, constructor keywords and a label for reports."""

    name: str
    kwargs: dict[str, Any]
    label: str


def valid_keys(name: str) -> str:
    params = PARAMS.get(name, ())
    if not params:
        return f"policy {name} takes no parameters"
    # the names only: one line an operator reads; what each sets and takes is in --help (spec_help)
    return f"valid keys: {', '.join(p.key for p in params)} (`geyser simulate --help` says what each sets)"


def parse_policy(text: str, known: tuple[str, ...] | list[str]) -> PolicySpec:
    """Parse ``NAME[:key=value,...]``; ``known`` lists the policy names that exist."""
    name, _, rest = text.strip().partition(":")
    if name not in known:
        raise ValueError(
            f"unknown policy {name!r} in {text!r}; {did_you_mean(name, known)}choose one of {', '.join(known)}"
        )
    params = {p.key: p for p in PARAMS.get(name, ())}
    kwargs: dict[str, Any] = {}
    written: list[str] = []
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if key not in params:
            raise ValueError(f"policy {text!r}: unknown key {key!r}; {did_you_mean(key, params)}{valid_keys(name)}")
        if not eq or not value:
            raise ValueError(f"policy {text!r}: key {key!r} needs a value ({key}=VALUE); {valid_keys(name)}")
        try:
            kwargs[params[key].keyword] = params[key].parse(value)
        except ValueError as exc:
            param = params[key]  # the key is right, its value is not: what it sets and takes
            raise ValueError(f"policy {text!r}: {key}={exc} ({key}: {param.help}; "
                             f"{param.parse.describe})") from None  # type: ignore[attr-defined]
        written.append(f"{key}={value}")
    label = f"{name}:{','.join(written)}" if written else name
    return PolicySpec(name, kwargs, label)


def spec_help() -> str:
    """Every policy's keys, for ``--help``: what each sets and what it takes, one key a line (an
    operator drawing a trade-off curve needs the meaning, not only the range)."""
    lines = []
    for name, params in PARAMS.items():
        lines.append(f"  {name}:")
        width = max(len(p.key) for p in params)
        for p in params:
            text = f"{p.help}; {p.parse.describe}"  # type: ignore[attr-defined]
            lines.append(textwrap.fill(text, width=100, initial_indent=f"    {p.key:<{width}}  ",
                                       subsequent_indent=" " * (width + 6)))
    return "\n".join(lines)
