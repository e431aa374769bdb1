"""Learn by doing: a workbook of exercises that check themselves, name the mistake, and give hints in steps.

``start(folder)`` writes the exercise stubs (``notebook=True``: a notebook of them too),
``report(folder)`` checks them (finite differences, glassnet's own layers, modes and edge cases; in a
child process, ``TIME_LIMIT`` seconds an exercise) with the hint steps each used, ``hint(folder, name)``
opens the next step of an exercise's hints, and ``train_side_by_side`` trains the reference network
built from the learner's code beside glassnet's. The CLI is ``glassnet learn``. The labs, which ask for a
prediction before they measure, are ``glassnet.learn.labs`` (``glassnet learn lab``).
"""

from glassnet.learn.exercises import EXERCISES, TIME_LIMIT, start
from glassnet.learn.hints import hint
from glassnet.learn.report import Report, format_results, report
from glassnet.learn.result import Result
from glassnet.learn.supervisor import check

__all__ = ["EXERCISES", "TIME_LIMIT", "Report", "Result", "check", "format_results", "hint", "report", "start"]
