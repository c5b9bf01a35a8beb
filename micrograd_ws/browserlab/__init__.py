"""The lab: one offline HTML page holding the explorer and a Python lab that runs micrograd_ws itself.

``micrograd_ws.lab('workshop.html')`` (or ``micrograd-ws lab --out workshop.html``) writes the
page.  It opens from ``file://``, an e-mail attachment or a USB stick, with no network: the
explorer of the handout's two-neuron model is usable at once, and *Start Python* unpacks what
the page carries (Pyodide, Python compiled to WebAssembly; @viz-js/viz, Graphviz compiled to
WebAssembly; micrograd_ws and the graphviz Python package as wheels built from what is
installed here) and runs :class:`~micrograd_ws.browserlab.session.Session` in it.  Every view
then comes from the engine running in the page.

The runtime is pinned and verified (:mod:`~micrograd_ws.browserlab.runtime`): fetched once
with npm, checked against the registry's published SHA-512, cached outside the repository.
Scripting (for tests): ``window.lab.start()``, ``window.lab.run(code)``, ``window.lab.exportModel()``.
"""
from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Callable, Union

from ..explorer import fill_template, gzip_base64, script_safe
from ..files import write_atomic
from ..serialize import model_text
from .runtime import PYODIDE, VIZ, RuntimeFetchError, files_of, tarball
from .session import STARTER, Session
from .wheel import wheel_of

__all__ = ["lab", "LabBuildError", "MAX_PAGE_BYTES"]

#: the page may be at most this large (an e-mail attachment's usual limit is 20-25 MB)
MAX_PAGE_BYTES = 12_000_000


class LabBuildError(RuntimeError):
    """The lab page cannot be built here; the message says what is missing and how to get it."""


def _static(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _block(element_id: str, data: bytes) -> str:
    return f'<script id="{element_id}" type="application/octet-stream">{gzip_base64(data, 9)}</script>'


def lab(out: Union[str, Path] = "workshop.html", *, say: Callable[[str], None] = print) -> Path:
    """Write the lab page to ``out`` (atomically); returns its path.  ``say`` gets what was fetched or reused."""
    try:
        pyodide = files_of(PYODIDE, tarball(PYODIDE, say))
        viz = files_of(VIZ, tarball(VIZ, say))
    except RuntimeFetchError as e:
        raise LabBuildError(str(e)) from None
    try:
        wheels = [wheel_of("micrograd_ws"), wheel_of("graphviz")]
    except ImportError:
        raise LabBuildError("the lab puts the graphviz Python package into the page (it writes the DOT the pictures "
                            "are laid out from): pip install graphviz, or make demo") from None
    lock = json.loads(pyodide["pyodide-lock.json"])
    lock["packages"] = {}  # the page installs its own two wheels; Pyodide's package index is not needed
    first = Session()  # the page opens on the starter's explorer, computed here by the same code the lab runs
    ran = first.run(STARTER)
    if ran["error"]:
        raise LabBuildError(f"the starter code failed: {ran['error']}")
    view = first.do_view("The code cell's starter, the handout's two-neuron model")
    runtime = [_block("lab-rt-" + name, pyodide[name] if name != "pyodide-lock.json" else json.dumps(lock).encode())
               for name in PYODIDE.files]
    runtime.append(_block("lab-rt-viz-global.js", viz["dist/viz-global.js"]))
    runtime += [_block(f"lab-wheel-{k}", data) for k, (_, data) in enumerate(wheels)]
    manifest = {"pyodide": PYODIDE.version, "viz": VIZ.version, "wheels": [name for name, _ in wheels]}
    version = wheels[0][0].split("-")[1]
    fill = {
        "title": html.escape("micrograd_ws lab: the handout's net, and Python to change it"),
        "version": html.escape(version),
        "pyodide": PYODIDE.version, "viz": VIZ.version, "style": _static("lab.css"),
        "first": gzip_base64(view["html"].encode("utf-8"), 9),
        "starter": script_safe(json.dumps({"text": model_text(first.model())})),
        "manifest": script_safe(json.dumps(manifest)),
        "script": script_safe(_static("lab.js")), "runtime": "\n".join(runtime),
    }
    page = fill_template(_static("lab.html"), fill)
    size = len(page.encode("utf-8"))
    if size > MAX_PAGE_BYTES:
        raise LabBuildError(f"the lab page would have {size:,} bytes, more than {MAX_PAGE_BYTES:,}; nothing was written")
    p = Path(out)
    write_atomic(p, page, example="workshop.html")
    say(f"wrote {p} ({size / 1e6:.1f} MB): the explorer and a Python lab (Pyodide {PYODIDE.version}, "
        f"viz-js {VIZ.version}, {', '.join(name for name, _ in wheels)}), offline")
    return p
