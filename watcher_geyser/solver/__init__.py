"""The consolidation solver: ``solve(Problem) -> Target``, back-ends behind one call."""

from watcher_geyser.solver.portfolio import METHODS, solve
from watcher_geyser.solver.problem import Bounds, Problem, Target

__all__ = ["METHODS", "Bounds", "Problem", "Target", "solve"]
