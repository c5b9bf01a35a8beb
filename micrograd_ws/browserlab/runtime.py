"""The lab's runtime, pinned and verified: Pyodide (Python compiled to WebAssembly) and @viz-js/viz
(Graphviz compiled to WebAssembly), from the npm registry by exact version.

Each package is fetched once with ``npm pack NAME@VERSION`` into a cache outside the
repository (``$MICROGRAD_WS_CACHE``, else ``$XDG_CACHE_HOME/micrograd_ws`` or
``~/.cache/micrograd_ws``), and every use checks the tarball's SHA-512 against the integrity
hash the registry published for that version, written below.  A tarball whose hash differs is
refused (a cached one is removed and fetched again).  Nothing is fetched when the page opens:
the files are inlined into it.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["Package", "PYODIDE", "VIZ", "RuntimeFetchError", "cache_dir", "tarball", "files_of"]


class RuntimeFetchError(RuntimeError):
    """A runtime package could not be fetched or verified; the message says why and what to do."""


@dataclass(frozen=True)
class Package:
    """One npm package: its exact version, the integrity hash the registry publishes, the files the page needs."""

    name: str
    version: str
    integrity: str  #: ``sha512-<base64>``, as ``npm view NAME@VERSION dist.integrity`` prints it
    files: tuple[str, ...]  #: paths inside the tarball (under ``package/``)
    license: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def filename(self) -> str:  # as npm pack names it: @viz-js/viz 3.31.0 -> viz-js-viz-3.31.0.tgz
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


PYODIDE = Package(
    "pyodide", "314.0.8",
    "sha512-74Wq1kXOC+CCEzAfxuRAO701nAcCMLjf8NrwvWpu8S41dVMXwXmLQ05dYB+F4e46AdnGo0oq7YHSVUpHsoarLQ==",
    ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"),
    "MPL-2.0")
VIZ = Package(
    "@viz-js/viz", "3.31.0",
    "sha512-r7zlQdRvcwvIpjHGgs+KNWHeE/P5/Dq7k8ZAKaMCbZqomxCBJV78gVuQYaHzFVca+kB0mX0fMW9UFevCOBG50A==",
    ("dist/viz-global.js",),
    "MIT")


def cache_dir() -> Path:
    """Where the tarballs are kept: ``$MICROGRAD_WS_CACHE``, else the user's cache directory."""
    given = os.environ.get("MICROGRAD_WS_CACHE")
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "micrograd_ws"


def integrity_of(data: bytes) -> str:
    """``sha512-<base64>``: the form of npm's (and the browser's) integrity strings."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def tarball(pkg: Package, say: Callable[[str], None] = print, cache: Path | None = None) -> bytes:
    """The package's tarball, verified: from the cache, else fetched with ``npm pack``."""
    where = (cache or cache_dir()) / "npm"
    path = where / pkg.filename
    if path.is_file():
        data = path.read_bytes()
        got = integrity_of(data)
        if got == pkg.integrity:
            say(f"using {pkg.spec} from {path} (sha512 verified)")
            return data
        say(f"refusing the cached {path}: its sha512 ({got[:27]}…) is not the published {pkg.integrity[:27]}…; "
            "removed, fetching it again")
        path.unlink()
    data = _npm_pack(pkg, where)
    got = integrity_of(data)
    if got != pkg.integrity:
        raise RuntimeFetchError(
            f"refusing {pkg.spec} from the npm registry: its sha512 is {got}, not the published {pkg.integrity}; "
            "nothing was kept. Check the registry your npm uses (npm config get registry)")
    where.mkdir(parents=True, exist_ok=True)
    part = where / f".{pkg.filename}.{os.getpid()}.part"
    part.write_bytes(data)
    os.replace(part, path)  # the cache holds whole, verified tarballs only
    say(f"fetched {pkg.spec} from the npm registry ({len(data) / 1e6:.1f} MB, sha512 verified), kept in {path}")
    return data


def _npm_pack(pkg: Package, where: Path) -> bytes:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeFetchError(
            f"the lab needs {pkg.spec} from the npm registry once, and npm is not installed. Install Node.js's npm "
            "(Debian/Ubuntu: sudo apt-get install npm; macOS: brew install node; Windows: winget install "
            f"OpenJS.NodeJS), then run again; or put the tarball {pkg.filename} (npm pack {pkg.spec}) into {where}")
    with tempfile.TemporaryDirectory(prefix="micrograd-ws-npm-") as tmp:
        try:
            done = subprocess.run([npm, "pack", pkg.spec, "--pack-destination", tmp, "--silent"], cwd=tmp,
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise RuntimeFetchError(f"npm pack {pkg.spec} did not finish in 10 minutes; check the network") from None
        got = Path(tmp) / pkg.filename
        if done.returncode != 0 or not got.is_file():
            why = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeFetchError(
                f"npm could not fetch {pkg.spec} from the registry ({why[-1] if why else f'exit {done.returncode}'}). "
                f"The lab needs it once; then it is kept in {where}")
        return got.read_bytes()


def files_of(pkg: Package, data: bytes) -> dict[str, bytes]:
    """The files the page needs, read from the verified tarball (nothing is unpacked to disk)."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in pkg.files:
            member = tar.extractfile(f"package/{name}")
            if member is None:
                raise RuntimeFetchError(f"{pkg.spec} has no file {name}")
            out[name] = member.read()
    return out


if __name__ == "__main__":  # python -m micrograd_ws.lab.runtime: fetch and verify both, e.g. before going offline
    for p in (PYODIDE, VIZ):
        tarball(p, lambda s: print(s, file=sys.stderr))
