"""Guided lessons: files that explain, set up a run, ask for a prediction, run and check.

`model` reads and checks a lesson (pure), `files` finds and reads lesson files, `measure`
reads a finished run for the checks, `headless` runs a lesson in the simulator. The window's
pane (`gui/lesson_pane.py`) drives the same lessons through the main window. Format:
docs/lessons.md.
"""
