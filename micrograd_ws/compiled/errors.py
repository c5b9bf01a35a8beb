"""The two ways a replay stops: :class:`ReplayError` for you, :class:`RunEagerly` inside."""
from __future__ import annotations

__all__ = ["ReplayError", "RunEagerly", "TraceWarning"]


class ReplayError(RuntimeError):
    """A call's graph is not the traced one (``check=True``), or ``fn`` cannot be traced."""


ReplayError.__module__ = "micrograd_ws.compiled"  # its name in tracebacks, where you import it from


class TraceWarning(UserWarning):
    """The trace saw ``fn`` do what a replay cannot follow: read ``.data``, or close over numbers."""


TraceWarning.__module__ = "micrograd_ws.compiled"


class RunEagerly(Exception):
    """This call leaves the traced path (an error or an edge case): it runs eagerly, for eager's
    result or eager's error in eager's words.  Raised by the generated code; never reaches you."""
