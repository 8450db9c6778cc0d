"""Instructor tools: the ``course`` command (setup, release, collect, autograde, feedback, grades).

Start with :mod:`cli`; :mod:`autograde` and :mod:`sandbox` hold the isolation and robustness.
"""
