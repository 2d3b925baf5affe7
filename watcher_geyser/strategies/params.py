"""Audit parameters of our strategies: the JSON schema Watcher's API validates, and their reading.

Watcher's API checks every audit's parameters against ``schema()`` (unknown names, wrong
types and out-of-range values get HTTP 400) and fills in the defaults, so the strategy
always receives every parameter. What one JSON schema cannot say (``ceiling_min`` not
above ``ceiling_max``) is checked in ``AuditParams.from_input``, which then keeps the
safe reading and says so instead of failing the audit.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIME_LIMIT_S = 10.0


def schema(power_off_default: bool) -> dict:
    """The audit parameters; ``power_off_default`` differs between the two strategies."""
    nullable_fraction = {"type": ["number", "null"], "exclusiveMinimum": True, "minimum": 0, "maximum": 1}
    return {
        "properties": {
            "time_limit_s": {
                "description": "Seconds the solver may search; it returns its best placement so far when time is up.",
                "type": "number", "minimum": 0.1, "maximum": 600, "default": DEFAULT_TIME_LIMIT_S,
            },
            "ceiling_min": {
                "description": "Lowest packing ceiling (fraction of each host's schedulable capacity) the signal "
                "may ask for.",
                "type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1, "default": 0.5,
            },
            "ceiling_max": {
                "description": "Highest packing ceiling the signal may ask for (1.0 packs up to Placement's "
                "allocation ratios).",
                "type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 1, "default": 1.0,
            },
            "ceiling": dict(nullable_fraction, default=None, description=(
                "Packing ceiling for this audit, overriding the signal's (still kept within ceiling_min.."
                "ceiling_max). null: the signal decides.")),
            "cpu_ceiling": dict(nullable_fraction, default=None, description=(
                "Also cap measured CPU use at this fraction of each host's physical cores. null: no cap.")),
            "power_budget_w": {
                "description": "Power budget in watts for the hosts left on, overriding the signal's. null: the "
                "signal decides (no signal: no budget).",
                "type": ["number", "null"], "minimum": 0, "default": None,
            },
            "signal_source": {
                "description": "Name of the energy signal source for this audit, one the operator configured in "
                "[geyser_signal] named_sources ('default': [geyser_signal] source). Empty: the configured source. "
                "A URL or a file path is refused: an audit cannot point the decision engine anywhere else.",
                "type": "string", "default": "", "pattern": "^[A-Za-z0-9_.-]{0,64}$",
            },
            "max_migrations": {
                "description": "Most instances this audit may move. null: no cap.",
                "type": ["integer", "null"], "minimum": 0, "default": None,
            },
            "watts_tolerance": {
                "description": "Fraction of the fewest watts found that may be given up for less memory to "
                "move (never for more hosts on). 0: watts strictly first.",
                "type": "number", "minimum": 0, "maximum": 0.2, "default": 0.0,
            },
            "deterministic": {
                "description": "Same cluster data, same plan on every audit: one solver worker under a work "
                "limit derived from time_limit_s instead of a time limit (slower to improve).",
                "type": "boolean", "default": False,
            },
            "power_off": {
                "description": "Switch emptied hosts off (needs Ironic or MAAS); false only disables them.",
                "type": "boolean", "default": power_off_default,
            },
            "allow_power_on": {
                "description": "Let the plan switch hosts on that we switched off earlier, when it needs room.",
                "type": "boolean", "default": True,
            },
            "use_measured_cpu": {
                "description": "Read instance CPU use from the datasource for the power estimate and cpu_ceiling; "
                "false assumes every vcpu busy.",
                "type": "boolean", "default": True,
            },
        },
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class AuditParams:
    """The parameters as one typed value, with the notes about anything adjusted."""

    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    ceiling_min: float = 0.5
    ceiling_max: float = 1.0
    ceiling: float | None = None
    cpu_ceiling: float | None = None
    power_budget_w: float | None = None
    signal_source: str = ""
    max_migrations: int | None = None
    watts_tolerance: float = 0.0
    deterministic: bool = False
    power_off: bool = False
    allow_power_on: bool = True
    use_measured_cpu: bool = True
    notes: tuple[str, ...] = ()

    @classmethod
    def from_input(cls, params) -> AuditParams:
        """From Watcher's ``input_parameters`` (a dict-like ``Struct``), defaults already filled."""
        get = params.get if hasattr(params, "get") else lambda k, d=None: getattr(params, k, d)
        names = [f for f in cls.__dataclass_fields__ if f != "notes"]
        values = {n: get(n, getattr(cls, n)) for n in names}
        notes = []
        if values["ceiling_min"] > values["ceiling_max"]:
            notes.append(
                f"ceiling_min {values['ceiling_min']} is above ceiling_max {values['ceiling_max']}: "
                f"both taken as {values['ceiling_max']}"
            )
            values["ceiling_min"] = values["ceiling_max"]
        values["signal_source"] = (values["signal_source"] or "").strip()
        return cls(**values, notes=tuple(notes))

    def clamp_ceiling(self, ceiling: float) -> float:
        return min(max(ceiling, self.ceiling_min), self.ceiling_max)
