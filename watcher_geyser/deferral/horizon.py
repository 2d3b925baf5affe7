"""Deferral and the plan it goes into, settled together: a due bring-back may not wait for the plan.

Watcher runs no audit while an action plan is ONGOING, and the simulator's ``--plans run-to-end``
skips its decisions the same way, so the decision that builds a plan is the last one before that
plan ends: every shelved instance due before then must come back in it (``decide``, rule 1, with
``plan_s``). The plan's expected duration is known only once it is built, and it depends on what
comes back, hence the few rounds here, shared by the Watcher strategy and the simulator: decide
as if the plan took no time, build it, decide again with its estimate; if that changes the answer
(more due bring-backs, or fewer shelves), build again, and once more if the rebuilt plan is longer.
The rounds are few because each only adds bring-backs due by a longer estimate: the answer of
the last round goes into the plan, and a plan rebuilt longer still is not chased further (on
20110303's realistic replays with 2 h, 4 h and 24 h deadlines one decision was built twice, none
three times: docs/design/deferral.md). A plan expected to take no time skips no decision: then
the rule is asked once, as before.

Pure: the shells pass how to decide and how to build; nothing here knows OpenStack or the replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

A = TypeVar("A")  # a shell's deferral answer
P = TypeVar("P")  # a shell's plan

#: builds after the first: one with the first plan's estimate, one more if that plan came out longer
MAX_REBUILDS = 2


@dataclass(frozen=True)
class Settled(Generic[A, P]):
    """The deferral answer and the plan built with it, the plan's expected duration, how many builds."""

    answer: A
    plan: P
    plan_s: float
    builds: int


def through_plan(decide: Callable[[float], A], build: Callable[[A], tuple[P, float]],
                 changed: Callable[[A, A], bool]) -> Settled[A, P]:
    """Decide (``decide(plan_s)``), build (``build(answer)`` -> (plan, its expected seconds)) and
    decide again with the plan's estimate until the answer holds (module docstring).

    ``changed(before, after)`` says whether ``after`` asks anything ``before`` did not (the
    simulator's ``decide`` applies what it asks at once, so its second answer holds only the
    extra bring-backs; the strategy's is a whole new answer)."""
    answer = decide(0.0)
    plan, plan_s = build(answer)
    builds = 1
    while plan_s > 0 and builds <= MAX_REBUILDS:  # a plan that takes no time skips no decision
        again = decide(plan_s)
        if not changed(answer, again):
            break
        answer = again
        plan, longer_s = build(answer)
        builds += 1
        if longer_s <= plan_s:
            plan_s = longer_s
            break
        plan_s = longer_s
    return Settled(answer, plan, plan_s, builds)
