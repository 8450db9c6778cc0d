"""Instructor tools: the ``course`` command (setup, release, collect, autograde, feedback, grades,
clear).

Start with :mod:`cli`. Grading a class: :mod:`autograde` (the main process) starts
:mod:`grader` processes, which hold the checkers and decide every point; each runs the
student's cells in a :mod:`sandbox`, where a :mod:`zygote` forks one :mod:`student` process per
notebook; :mod:`normalise` checks a notebook's structure and :mod:`execute` shares its cells
between the two processes.
"""
