"""Writing files without ever destroying one: the one atomic writer every output goes through.

:func:`write_atomic` writes the new contents to a temporary file in the target's own
directory, flushes it to disk (``fsync``), then renames it over the target
(``os.replace``, atomic on POSIX and Windows).  Until the rename the old file is
untouched; after it the new file is whole.  An interrupt (Ctrl-C, ``kill -9``, a full
disk) at any point leaves the old file or the new one, never a mix or a truncation.

What it also takes care of:

* **permissions and ownership** of a file it replaces are kept (a 0600 model stays
  0600); a new file gets the usual ``0666 & ~umask``;
* **symbolic links** are written through: the file the link points to is replaced, the
  link stays; a link loop is refused;
* **hard links** are refused: replacing a file that has other names would split them
  (the other names would keep the old contents), so the error says so and nothing is
  written;
* **names of any length** the file system allows: the temporary's name is short
  (``.mgw<pid>-<hex>.tmp``), whatever the target's;
* **stale temporaries** left by a save that was killed (``kill -9``) are removed by the
  next write into the same directory (their process no longer runs);
* **clear errors** name the target, never the temporary: a read-only directory, a
  missing directory, a directory or a pipe where the file should be, a name that ends
  in ``/`` (``save("m.json/")`` is refused, not written as ``m.json``), a NUL byte;
* **text** is UTF-8; characters that UTF-8 cannot hold (lone surrogates, e.g. from a
  label read from a broken file name) are written as ``\\udc80`` escapes, never a crash.

>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     path = write_atomic(os.path.join(d, "notes.txt"), "first\\n")
...     _ = write_atomic(path, "second\\n")
...     print(open(path).read(), sorted(os.listdir(d)))
second
 ['notes.txt']
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import reprlib
import secrets
import stat
import threading
from pathlib import Path
from typing import Union

__all__ = ["write_atomic", "write_together", "write_figure", "render_figure", "figure_file", "read_regular", "check_target", "check_writable", "UnsafeTargetError",
           "quoted"]

PathLike = Union[str, os.PathLike]

_TEMP = re.compile(r"\.mgw(\d+)-[0-9a-f]{8}\.tmp\Z")
# This process's temporaries being written, each with the thread writing it.  A thread that
# starts a write is no longer inside an earlier one, so its earlier temporaries are stale even
# if an interrupt kept them registered.  No lock: dict operations are atomic, and a lock held
# by a `with` can be left locked by an exception at its exit line.
_active: dict[str, int] = {}


class UnsafeTargetError(ValueError):
    """Writing would destroy or bypass something: a pipe or device at the path, a link loop,
    a file with several hard links, a path that names a directory."""


def quoted(value: object, limit: int = 80) -> str:
    """``repr`` of a value for an error message, at most ``limit`` characters (longer ones are cut with …).

    Cheap for any size: a 50 MB string or a list of a million items is not copied whole.

    >>> quoted("x" * 1000, 12)
    "'xxxxxxxxxx…"
    >>> quoted(2.5), quoted(10**5000)
    ('2.5', 'an integer of 5001 digits')
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * limit:
        digits = len(str(value)) if value.bit_length() < 10_000 else int(value.bit_length() * 0.30103) + 1
        return f"an integer of {digits} digits"
    s = _short.repr(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


_short = reprlib.Repr()
_short.maxstring = _short.maxother = 200
_short.maxlong = 60
_short.maxlevel = 3


def read_regular(path: PathLike, limit: int, *, error: type = ValueError, what: str = "file", how: str = "",
                 too_big=None) -> bytes:
    """The bytes of the regular file at ``path``, of at most ``limit`` bytes; anything else is refused unread.

    A FIFO (which would block), a device such as ``/dev/zero`` (endless), a socket or a file
    larger than ``limit`` raises ``error`` before anything is read; a directory raises
    ``IsADirectoryError``; a missing file ``FileNotFoundError``.  ``what`` names the kind of
    file in messages, ``how`` says what to pass instead, ``too_big(size)`` words the size refusal.
    """
    text = os.fsdecode(os.fspath(path))
    if "\0" in text:
        raise error(f"the path {quoted(text, 200)} contains a NUL byte (\\0), which no file name may hold")

    def check(st: os.stat_result) -> None:
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, f"{quoted(text, 200)} is a directory, not a {what}")
        if not stat.S_ISREG(st.st_mode):
            kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a special file")
            raise error(f"this is {kind}, not a regular file, so it was not read; {how}")
        if st.st_size > limit:
            raise error(too_big(st.st_size) if too_big else f"the file has {st.st_size:,} bytes, more than the "
                        f"{limit:,} a {what} may have, so it was not read")

    check(os.stat(text))
    # O_NONBLOCK: should the path become a FIFO after the stat, open() still returns at once
    fd = os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        check(st)
        # read(n) allocates n bytes first: ask for the size seen (+1 to notice growth), not the limit
        chunks, total = [], 0
        while total <= limit:
            chunk = f.read(min(max(st.st_size + 1 - total, 1 << 16), limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(raw) > limit:
        raise error(too_big(len(raw)) if too_big else f"the file has more than {limit:,} bytes, the most a "
                    f"{what} may have, so it was not read")
    return raw


def check_target(path: PathLike, example: str = "model.json") -> tuple[Path, Path]:
    """Check that ``path`` can be written as a file; returns (the path as given, the real file).

    Raises :class:`UnsafeTargetError`, ``IsADirectoryError``, ``FileNotFoundError`` or
    ``ValueError`` naming ``path``, before anything is written; ``example``: the kind of file
    name the fix suggests (a page is ``explorer.html``, not ``model.json``).  A page (an
    ``example`` ending in ``.html``) replaces only a page or an empty file: never a model, a
    CSV or anything else that is not HTML (``--out`` given the command's own input).
    """
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    shown = quoted(text, 200)
    if "\0" in text:
        raise ValueError(f"cannot write {shown}: the path contains a NUL byte (\\0), which no file name may hold")
    if not text:
        raise ValueError(f"cannot write to an empty path: give a file name such as {quoted(example)}")
    given = Path(text)
    if text.endswith(("/", os.sep)) or (os.altsep and text.endswith(os.altsep)):
        raise IsADirectoryError(f"cannot write {shown}: a path that ends in '/' names a directory; "
                                f"give a file name inside it such as {quoted(str(given / example), 200)}")
    real = Path(os.path.realpath(given))
    where = f"cannot write {shown}" + (f" (a link to {quoted(str(real), 200)})" if given.is_symlink() else "")
    if real.is_symlink():
        raise UnsafeTargetError(f"cannot write {shown}: it is a symbolic link that leads back to itself "
                                "(a loop); remove it or give another file name")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise NotADirectoryError(errno.ENOTDIR, f"{where}: {quoted(str(real.parent), 200)} is a file, not a "
                                                "directory") from None
    except OSError as e:
        raise type(e)(e.errno, f"{where}: {e.strerror}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, f"{where}: it is a directory; give a file name inside it "
                                                  f"such as {quoted(str(given / example), 200)}")
        if not stat.S_ISREG(st.st_mode):
            kind = "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else \
                "a socket" if stat.S_ISSOCK(st.st_mode) else "a device or special file"
            raise UnsafeTargetError(f"{where}: it is {kind}, not a regular file, and writing would replace it; "
                                    "give an ordinary file name")
        if example.endswith(".html") and st.st_size and not _is_page(real):
            raise UnsafeTargetError(f"{where}: it holds something other than an HTML page ({_first_line(real)}), and "
                                    f"writing the page would replace it; give the page a name of its own, such as "
                                    f"{quoted(str(given.with_name(_other(given.name, example))), 200)}")
        if st.st_nlink > 1:
            raise UnsafeTargetError(
                f"{where}: the file has {st.st_nlink} hard links (other names for the same file); replacing it "
                "atomically would leave the other names with the old contents. Remove the other links, or "
                "write to a new name")
    directory = real.parent
    if not directory.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"{where}: the directory {quoted(str(directory), 200)} does not exist")
    return given, real


_PAGE_TAG = re.compile(r"<(?:!doctype\s+html|html|head|body)\b")  # (not <header>, <metadata>, <svg>, an RSS <title>)


def _is_page(real: Path) -> bool:
    """Is the file an HTML page: markup with a page's own tag near its start (XHTML and UTF-16 too), or
    any markup in a file named .html or .htm?  (A page replaces a page, never a model or a data file.)"""
    try:
        with open(real, "rb") as f:
            head = f.read(4096)
    except OSError:
        return True  # (unreadable: the write itself will say why)
    codec = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
    text = head.decode(codec, "ignore").lower()
    named = real.suffix.lower() in (".html", ".htm")
    return text.lstrip("\ufeff \t\r\n").startswith("<") and (named or _PAGE_TAG.search(text) is not None)


def _other(name: str, example: str) -> str:
    """``example``, or a name beside it if that is the refused file's own (explorer.html: explorer-page.html)."""
    return example if name != example else f"{Path(example).stem}-page{Path(example).suffix}"


def _first_line(real: Path) -> str:
    try:
        with open(real, "rb") as f:
            line = f.read(200).splitlines()[0] if f.peek(1) else b""
    except (OSError, IndexError):
        return "unreadable"
    return f"it begins {quoted(line.decode('utf-8', 'replace'), 40)}"


def check_writable(path: PathLike, example: str = "model.json") -> Path:
    """:func:`check_target`, then a real try: a temporary file is created and removed where
    :func:`write_atomic` would create its own.  Returns the real file; raises as
    :func:`write_atomic` would, naming ``path``, before any long work whose result would be lost.

    ``os.access`` is not enough: it says yes to root everywhere, and knows nothing of
    read-only mounts, ACLs or kernel file systems such as /sys.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     check_writable(os.path.join(d, "page.html")).name, os.listdir(d)
    ('page.html', [])
    """
    given, real = check_target(path, example)
    with _temporary(given, real.parent) as (tmp, fd):
        os.close(fd)
        os.unlink(tmp)
    return real


@contextlib.contextmanager
def _temporary(given: Path, directory: Path):
    """A new temporary file in ``directory`` for the target ``given``: yields its name and an
    open descriptor; removed if anything (an interrupt too) leaves the block early."""
    tmp = os.path.join(directory, f".mgw{os.getpid()}-{secrets.token_hex(4)}.tmp")
    _active[tmp] = threading.get_ident()  # registered first: an interrupt after the open leaves a name to clean
    try:
        try:
            # 0o666: the umask applies, as for open(); O_EXCL: never an existing file or link
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except OSError as e:
            raise _named(e, given, directory) from None
        yield tmp, fd
    except BaseException:  # KeyboardInterrupt too: never leave a temporary behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        _active.pop(tmp, None)


def write_atomic(path: PathLike, data: Union[str, bytes], *, encoding: str = "utf-8", example: str = "model.json") -> Path:
    """Replace the file at ``path`` by ``data`` (text or bytes) atomically; returns the real file written.

    See the module docstring for what is kept, refused and cleaned.  Errors are
    ``OSError`` (e.g. ``PermissionError`` for a read-only directory) or ``ValueError``,
    each naming ``path``.
    """
    return write_together([(path, data)], encoding=encoding, example=example)[0]


def write_together(items: list[tuple[PathLike, Union[str, bytes]]], *, encoding: str = "utf-8",
                   example: str = "model.json") -> list[Path]:
    """Replace several files as one: every new file is written to its temporary and synced
    first, then all are renamed over their targets.  A failure before the renames (a full disk,
    an interrupt) leaves every old file as it was, so a model never sits beside the figure of
    another run.  Returns the real files written."""
    staged = []
    for path, data in items:
        given, real = check_target(path, example)
        payload = data.encode(encoding, "backslashreplace") if isinstance(data, str) else bytes(data)
        staged.append((given, real, payload))
    for directory in {real.parent for _, real, _ in staged}:  # (first: it counts this thread's temporaries as stale)
        _remove_stale(directory)
    with contextlib.ExitStack() as stack:
        renames = []
        for given, real, payload in staged:
            directory = real.parent
            try:
                old = os.stat(real)
            except FileNotFoundError:
                old = None
            tmp, fd = stack.enter_context(_temporary(given, directory))
            try:
                with os.fdopen(fd, "wb") as f:
                    if old is not None:
                        _keep_owner_and_mode(f.fileno(), old)
                    f.write(payload)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                raise _named(e, given, directory) from None
            renames.append((tmp, given, real, directory))
        for tmp, given, real, directory in renames:  # (renames take no space: a full disk fails above)
            try:
                os.replace(tmp, real)
            except OSError as e:
                raise _named(e, given, directory) from None
        for directory in {d for *_, d in renames}:
            _sync_directory(directory)
    return [real for _, _, real, _ in renames]


def render_figure(figure, path: PathLike, **savefig_options) -> bytes:
    """A matplotlib figure rendered into memory in the format of ``path``'s suffix (checked first)."""
    check_target(path, example="figure.png")
    fmt = Path(os.fspath(path)).suffix.lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, **savefig_options)
    return buffer.getvalue()


def figure_file(path: PathLike) -> str:
    """``path`` as ``figure.savefig(path)`` names it: without a suffix, ``.png`` is added (its format).

    >>> figure_file("out/room"), figure_file("out/room.svg"), figure_file("out/")
    ('out/room.png', 'out/room.svg', 'out/')
    """
    name = os.fspath(path)
    return name if Path(name).suffix or name.endswith(("/", os.sep)) or not name else name + ".png"


def write_figure(figure, path: PathLike, **savefig_options) -> Path:
    """Save a matplotlib figure atomically: rendered into memory, then :func:`write_atomic`.

    The format comes from the file name's suffix (``.png``, ``.svg``, ``.pdf``), as for
    ``figure.savefig(path)``, which adds ``.png`` to a name without one (:func:`figure_file`);
    the file is checked before the (slow) rendering.  Returns the path written.
    """
    path = figure_file(path)
    return write_atomic(path, render_figure(figure, path, **savefig_options), example="figure.png")


def _named(e: OSError, given: Path, directory: Path) -> OSError:
    """The same kind of OSError, naming the target (not the temporary) and the likely cause."""
    shown = quoted(str(given), 200)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = (f"the directory {quoted(str(directory), 200)} is read-only (or not yours); "
               "choose another place, or fix its permissions")
    elif e.errno == errno.ENOSPC:
        why = "the disk is full; the old file, if any, is unchanged"
    elif e.errno == errno.ENAMETOOLONG:
        why = "the file name is longer than this file system allows"
    else:
        why = e.strerror or str(e)
    error = type(e)(e.errno, f"cannot write {shown}: {why}")
    return error


def _keep_owner_and_mode(fd: int, old: os.stat_result) -> None:
    """Give the temporary the replaced file's owner, group and permissions (as far as allowed)."""
    if hasattr(os, "fchown"):
        with contextlib.suppress(OSError):
            os.fchown(fd, old.st_uid, old.st_gid)
        with contextlib.suppress(OSError):  # not root: keeping the group may still be allowed
            os.fchown(fd, -1, old.st_gid)
    with contextlib.suppress(OSError):  # after chown, which may clear set-id bits
        os.fchmod(fd, stat.S_IMODE(old.st_mode)) if hasattr(os, "fchmod") else None


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale(directory: Path) -> None:
    """Delete temporaries of saves that were killed: their process no longer runs."""
    try:
        entries = [e.name for e in os.scandir(directory) if e.name.startswith(".mgw")]
    except OSError:
        return
    for entry in entries:
        m = _TEMP.match(entry)
        if not m:
            continue
        full = os.path.join(directory, entry)
        pid = int(m.group(1))
        if pid == os.getpid():
            stale = _active.get(full, threading.get_ident()) == threading.get_ident()
        else:
            stale = not _process_exists(pid)
        if stale:
            _active.pop(full, None)
            with contextlib.suppress(OSError):
                os.unlink(full)


def _process_exists(pid: int) -> bool:
    if os.name != "posix":  # no cheap check: leave it (a later save on POSIX cleans it)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process
    return True
