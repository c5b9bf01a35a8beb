"""A learner's progress in a small JSON file, and a room's progress read from many of them (no server).

Each learner's answers and attempts go to one file, rewritten whole after each attempt
(:func:`micrograd_ws.files.write_atomic`: an interrupted save leaves the old file).  The
file says what it is (``"format"``), which version of the layout it has (``"version"``),
and carries a checksum of its contents, so a file written by another version or edited by
hand is recognised and named, never misread.

>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     p = Progress(os.path.join(d, "ada.json"), learner="ada", exercise="two_neuron", seed="ada",
...                  questions=["O", "∂C/∂w1"])
...     p.record("O", 1.6, right=True)
...     p.record("∂C/∂w1", 1.8, right=False, kind="missing factor", factor="∂C/∂O")
...     again = load_progress(p.path)
...     again.learner, again.solved(), again.current(), again.edited
('ada', ['O'], '∂C/∂w1', False)
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from .files import quoted, read_regular, write_atomic, write_figure

__all__ = ["FORMAT", "VERSION", "Progress", "ProgressError", "load_progress", "RoomSummary", "summarise",
           "room_table", "room_chart"]

FORMAT = "micrograd-ws progress"
VERSION = 1
MAX_BYTES = 5_000_000  # a progress file of a workshop is a few kB


class ProgressError(ValueError):
    """A progress file that cannot be read as one: the message names the file and what is wrong."""


def _checksum(data: dict) -> str:
    body = {k: v for k, v in data.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class Progress:
    """One learner's progress: what was asked, every attempt, what was shown.  ``record`` saves at once."""

    path: Optional[str]
    learner: str
    exercise: str
    seed: str
    questions: list = field(default_factory=list)
    attempts: list = field(default_factory=list)
    shown: list = field(default_factory=list)
    edited: bool = False  # the checksum did not match when read: edited by hand
    unsaved: list = field(default_factory=list, repr=False, compare=False)  # this object's attempts not yet written

    def record(self, question: str, answer: Optional[float], *, right: bool, kind: str = "right",
               factor: Optional[str] = None, at: Optional[str] = None) -> None:
        """One attempt at ``question``; written to the file at once (atomically)."""
        attempt = {"question": question, "answer": answer, "right": bool(right), "kind": kind,
                   "factor": factor, "at": at or _now()}
        self.attempts.append(attempt)
        self.unsaved.append(attempt)
        self.save()

    def record_shown(self, question: str) -> None:
        if question not in self.shown:
            self.shown.append(question)
            self.save()

    def as_json(self) -> dict:
        data = {"format": FORMAT, "version": VERSION, "learner": self.learner, "exercise": self.exercise,
                "seed": self.seed, "questions": list(self.questions), "attempts": list(self.attempts),
                "shown": list(self.shown)}
        data["checksum"] = _checksum(data)
        return data

    def save(self) -> None:
        if self.path:
            self._keep_theirs()
            write_atomic(self.path, json.dumps(self.as_json(), ensure_ascii=False, indent=1) + "\n",
                         example="progress.json")
            self.unsaved = []

    def _keep_theirs(self) -> None:
        """What another exercise object wrote to the same file since this one read it (two notebooks,
        a notebook and a REPL) is kept: the file's attempts, then this one's not written yet."""
        try:
            theirs = load_progress(self.path)
        except (ProgressError, OSError):  # (none yet, or unreadable: this one's is written)
            return
        if (theirs.exercise, theirs.seed) != (self.exercise, self.seed):
            return
        self.attempts = list(theirs.attempts) + self.unsaved
        self.shown = list(dict.fromkeys(theirs.shown + self.shown))

    # --- reading ------------------------------------------------------------------------------
    def solved(self) -> list[str]:
        """The questions answered right at least once, in the order asked."""
        right = {a["question"] for a in self.attempts if a["right"]}
        return [q for q in self.questions if q in right]

    def current(self) -> Optional[str]:
        """Where the learner is: the question of the last attempt if it is not solved yet, else the next
        question not solved after it (None: all done)."""
        done = set(self.solved())
        if self.attempts:
            last = self.attempts[-1]["question"]
            if last not in done:
                return last
            if last in self.questions:
                after = self.questions[self.questions.index(last) + 1:]
                nxt = next((q for q in after if q not in done), None)
                if nxt is not None:
                    return nxt
        return next((q for q in self.questions if q not in done), None)

    def mistakes(self) -> list[dict]:
        return [a for a in self.attempts if not a["right"]]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def load_progress(path) -> Progress:
    """Read a progress file; :class:`ProgressError` says what is wrong with one that is not right."""
    shown = quoted(os.fspath(path), 120)
    try:
        raw = read_regular(path, MAX_BYTES, error=ProgressError, what="progress file",
                           how="give the .json file a learner's exercise wrote")
    except FileNotFoundError:
        raise ProgressError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise ProgressError(f"{shown} is a directory: give the progress files in it (e.g. {shown}/*.json)") from None
    except ProgressError as e:
        raise ProgressError(f"{shown}: {e}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProgressError(f"{shown} is not a text file, so not a progress file") from None
    except json.JSONDecodeError as e:
        raise ProgressError(f"{shown} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); was it "
                            "edited by hand? The exercise rewrites it whole after each attempt") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProgressError(f"{shown} is not a micrograd-ws progress file (it has no \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if version != VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            raise ProgressError(f"{shown} was written by a newer micrograd-ws (progress format version {version}; "
                                f"this one reads version {VERSION}): update micrograd-ws to read it")
        raise ProgressError(f"{shown} has progress format version {version!r}; this micrograd-ws reads version "
                            f"{VERSION} only")
    for key, kind in (("learner", str), ("exercise", str), ("seed", str), ("questions", list),
                      ("attempts", list), ("shown", list)):
        if not isinstance(data.get(key), kind):
            raise ProgressError(f"{shown}: the field {key!r} should be a {'text' if kind is str else 'list'}, "
                                f"got {quoted(data.get(key), 60)}; was the file edited by hand?")
    for n, a in enumerate(data["attempts"]):
        problem = _bad_attempt(a)
        if problem:
            raise ProgressError(f"{shown}: attempt {n + 1} {problem}; was the file edited by hand?")
    edited = data.get("checksum") != _checksum(data)
    return Progress(os.fspath(path), data["learner"], data["exercise"], data["seed"], list(data["questions"]),
                    list(data["attempts"]), list(data["shown"]), edited)


def _bad_attempt(a) -> Optional[str]:
    if not isinstance(a, dict):
        return f"is {quoted(a, 40)}, not a record of an attempt"
    if not isinstance(a.get("question"), str):
        return "has no question"
    x = a.get("answer")
    if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x)):
        return f"has the answer {quoted(x, 40)}, not a number"
    if not isinstance(a.get("right"), bool):
        return "does not say whether it was right (true or false)"
    if not isinstance(a.get("kind"), str) or not (a.get("factor") is None or isinstance(a.get("factor"), str)):
        return "has a kind or factor that is not text"
    return None


# --- a room ---------------------------------------------------------------------------------

@dataclass
class RoomSummary:
    """Who is where, and the most common mistakes by factor."""

    learners: list  # (name, exercise, solved, total, attempts, current, shown, edited)
    mistakes: list  # ((factor, kind), attempts, learners), most common first
    problems: list  # (path, message) of files that could not be read
    other: dict = field(default_factory=dict)  # kind -> wrong attempts that name no factor (slips, unknown)


def summarise(paths: Iterable) -> RoomSummary:
    learners, problems = [], []
    by_factor: Counter = Counter()
    other: Counter = Counter()
    who: dict = {}
    for path in paths:
        try:
            p = load_progress(path)
        except ProgressError as e:
            problems.append((os.fspath(path), str(e)))
            continue
        learners.append((p.learner, p.exercise, len(p.solved()), len(p.questions), len(p.attempts), p.current(),
                         len(p.shown), p.edited))
        for a in p.mistakes():
            if a["factor"] is None:  # an arithmetic slip, or none of the usual mistakes
                other[a["kind"]] += 1
                continue
            key = (a["factor"], a["kind"])
            by_factor[key] += 1
            who.setdefault(key, set()).add(p.learner)
    learners.sort(key=lambda r: (-r[2] / max(r[3], 1), r[0]))
    mistakes = [(key, n, len(who[key])) for key, n in by_factor.most_common()]
    return RoomSummary(learners, mistakes, problems, dict(other))


def room_table(s: RoomSummary, top: int = 10) -> str:
    """The summary as plain-text tables: learners, then the most common mistakes by factor."""
    rows = [("learner", "exercise", "done", "attempts", "now at", "shown")]
    for name, exercise, solved, total, attempts, current, shown, edited in s.learners:
        rows.append((name + (" (edited by hand!)" if edited else ""), exercise, f"{solved}/{total}", str(attempts),
                     current or "all done ✓", str(shown)))
    lines = _table(rows)
    named = sum(n for _, n, _ in s.mistakes)
    lines += ["", f"Most common mistakes by factor ({named} wrong attempts name a factor"
                  + "".join(f"; {n} {kind}" for kind, n in sorted(s.other.items())) + "):"]
    rows = [("factor", "kind", "attempts", "learners")]
    rows += [(factor, kind, str(n), str(k)) for (factor, kind), n, k in s.mistakes[:top]]
    lines += _table(rows) if len(rows) > 1 else ["  (none)"]
    for path, message in s.problems:
        lines.append(f"skipped: {message}")
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    out.insert(1, "  ".join("─" * w for w in widths))
    return out


def room_chart(s: RoomSummary, path, top: int = 8):
    """A PNG (or SVG, PDF: by the suffix) of the room: each learner's progress, and the most common
    mistakes by factor.  Needs matplotlib (``pip install matplotlib``)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("the chart needs matplotlib: pip install matplotlib (the table needs nothing)") from None
    n = max(len(s.learners), 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, max(4.5, 0.28 * n + 1.5)),
                                      gridspec_kw={"width_ratios": [1, 1.25]})
    names = [r[0] + (" ✎" if r[7] else "") for r in s.learners][::-1]
    done = [r[2] for r in s.learners][::-1]
    todo = [r[3] - r[2] for r in s.learners][::-1]
    left.barh(names, done, color="#2a9d8f", label="answered right")
    left.barh(names, todo, left=done, color="#e9ecef", edgecolor="#adb5bd", label="still to do")
    left.set_title("Who is where: questions answered right")
    left.set_xlabel("questions")
    left.legend(loc="lower right", fontsize=8)
    left.tick_params(axis="y", labelsize=8)
    shown = s.mistakes[:top][::-1]
    colors = {"sign": "#e76f51", "missing factor": "#f4a261", "wrong factor": "#e9c46a", "extra factor": "#8ab17d",
              "missing paths": "#6d597a", "arithmetic slip": "#adb5bd", "unknown": "#495057"}
    labels = [f"{factor}  ({kind})" for (factor, kind), _, _ in shown]
    right.barh(labels, [n for _, n, _ in shown], color=[colors.get(kind, "#888") for (_, kind), _, _ in shown])
    for y, (_, n_attempts, k) in enumerate(shown):
        right.text(n_attempts, y, f" {k} learner{'s' * (k != 1)}", va="center", fontsize=8)
    right.set_title("Most common mistakes, by factor of the chain rule")
    right.set_xlabel("wrong attempts")
    right.tick_params(axis="y", labelsize=9)
    right.margins(x=0.18)
    fig.tight_layout()
    try:
        return write_figure(fig, path, dpi=110)
    finally:
        plt.close(fig)
