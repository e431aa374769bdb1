"""Learn by doing: a workbook of exercises that check themselves and name the mistake.

``start(folder)`` writes the exercise stubs, ``check(folder)`` checks them (finite differences,
glassnet's own layers, modes and edge cases; in a child process, ``TIME_LIMIT`` seconds an
exercise) and ``train_side_by_side`` trains the reference network built from the learner's layers
beside glassnet's. The CLI is ``glassnet learn``.
"""

from glassnet.learn.checks import Result
from glassnet.learn.exercises import EXERCISES, TIME_LIMIT, format_results, start
from glassnet.learn.supervisor import check

__all__ = ["EXERCISES", "TIME_LIMIT", "Result", "check", "format_results", "start"]
