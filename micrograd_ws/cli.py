"""The command line's old address: it lives in :mod:`micrograd_ws.commands` (``main``) and
:mod:`micrograd_ws.commands.common` (the shared defaults and argument types).

Kept for code that imports ``micrograd_ws.cli`` and for console scripts installed before
the move; nothing in the library imports it.
"""
from .commands import main
from .commands.common import (DEFAULT_DESIRED, DEFAULT_INPUT, DEFAULT_OUT, QuietStream, UsageError, finite_number,
                              handout_cost, positive_number, whole_number)

__all__ = ["main", "DEFAULT_INPUT", "DEFAULT_DESIRED", "DEFAULT_OUT", "whole_number", "finite_number",
           "positive_number", "UsageError", "handout_cost", "QuietStream"]
