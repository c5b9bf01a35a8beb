"""micrograd's ``micrograd.engine``: its ``Value`` is micrograd_ws's :class:`~micrograd_ws.engine.Value`.

>>> from micrograd_ws.micrograd.engine import Value
>>> a = Value(-4.0); b = Value(2.0)
>>> c = a + b; d = a * b + b**3
>>> d.backward(); a.grad, b.grad
(2.0, 8.0)
"""
from ..engine import Value

__all__ = ["Value"]
