"""Test helper: deliver an interrupt at the n-th line executed in chosen modules.

``at_line(n, files, how)`` runs its block with a tracer that, at the n-th line event in a
frame whose code comes from ``files`` (and, optionally, whose function is in ``functions``):

* ``how="signal"``: sends SIGINT to this process, as Ctrl-C does; Python's handler (or the
  engine's, while it holds interrupts) runs at the next instruction boundary;
* ``how="raise"``: raises KeyboardInterrupt right there, the harshest case.

``count_lines(fn, files)`` is how many such events one call of ``fn`` makes, so that a test
can try every point.
"""
from __future__ import annotations

import contextlib
import signal
import sys


class _Tracer:
    def __init__(self, files, functions, at, how):
        self.files, self.functions, self.at, self.how = tuple(files), functions, at, how
        self.count = 0
        self.fired = False

    def global_trace(self, frame, event, arg):
        code = frame.f_code
        if code.co_filename.endswith(self.files) and (self.functions is None or code.co_name in self.functions):
            return self.local_trace
        return None

    def local_trace(self, frame, event, arg):
        if event == "line" and not self.fired:
            self.count += 1
            if self.count == self.at:
                self.fired = True
                sys.settrace(None)
                frame.f_trace = None
                if self.how == "signal":
                    signal.raise_signal(signal.SIGINT)
                else:
                    raise KeyboardInterrupt("injected")
        return self.local_trace


@contextlib.contextmanager
def at_line(n, files, how="signal", functions=None):
    tracer = _Tracer(files, functions, n, how)
    previous = sys.gettrace()
    sys.settrace(tracer.global_trace)
    try:
        yield tracer
    finally:
        sys.settrace(previous)


def count_lines(fn, files, functions=None) -> int:
    with at_line(0, files, functions=functions) as tracer:
        fn()
    return tracer.count
