"""Wheels of pure-Python packages, built from the files Python imports them from.

The lab puts micrograd_ws itself (this checkout, as it is installed) and the graphviz Python
package (which writes the DOT that viz-js lays out) into the page as wheels; Pyodide unpacks
them into its site-packages.  A wheel is a zip with a ``.dist-info`` folder (PEP 427): built
here with the standard library, so the lab needs no build tool.
"""
from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.metadata
import io
import zipfile
from pathlib import Path

__all__ = ["wheel_of"]

_SKIP = {"__pycache__"}


def wheel_of(module: str, distribution: str | None = None) -> tuple[str, bytes]:
    """``(filename, bytes)`` of a py3-none-any wheel of the importable package ``module``.

    Every file of the package folder goes in (sources and data files such as the explorer's
    script), except compiled ``__pycache__`` folders.  Files are in sorted order with a fixed
    date, so the same sources give the same bytes.
    """
    mod = importlib.import_module(module)
    root = Path(mod.__file__).parent
    dist = distribution or module
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = getattr(mod, "__version__", "0")
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root.parent)
        if path.is_file() and not _SKIP.intersection(rel.parts) and path.suffix not in (".pyc", ".pyo"):
            files.append((rel.as_posix(), path.read_bytes()))
    info = f"{dist.replace('-', '_')}-{version}.dist-info"
    files.append((f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()))
    files.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: micrograd_ws.lab\nRoot-Is-Purelib: true\n"
                                   b"Tag: py3-none-any\n"))
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(entry, data)
    return f"{dist.replace('-', '_')}-{version}-py3-none-any.whl", buf.getvalue()


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
