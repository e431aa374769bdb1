"""Learn by doing: a workbook of exercises that check themselves and name the mistake.

``start(folder)`` writes the exercise stubs, ``check(folder)`` checks them (finite differences,
glassnet's own layers, modes and edge cases) and ``train_side_by_side`` trains the reference
network built from the learner's layers beside glassnet's. The CLI is ``glassnet learn``.
"""

from glassnet.learn.checks import Result
from glassnet.learn.exercises import EXERCISES, check, format_results, start

__all__ = ["EXERCISES", "Result", "check", "format_results", "start"]
