"""The README's Windows commands are the ones `make demo` runs (read from the Makefile)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUIET = {"-q", "--no-compile"}  # flags that change only pip's output and speed


def recipe(makefile: str, target: str, skip: tuple = ("dot",)) -> list[str]:
    """The commands of one Makefile rule, its prerequisites' rules first (as make runs them);
    not those of ``skip`` (``dot`` installs Graphviz: on Windows, winget does)."""
    rules = {}
    for m in re.finditer(r"^(\S+):([^=\n]*)\n((?:\t.*\n)*)", makefile, re.M):
        rules[m.group(1)] = (m.group(2).split(), [line.strip() for line in m.group(3).splitlines()])
    variables = dict(re.findall(r"^(\w+)\s*[:?]?=\s*(.*)$", makefile, re.M))

    def expand(text: str) -> str:
        for _ in range(5):  # variables made of variables; $$ is a literal $ for the shell
            text = re.sub(r"(?<!\$)\$\((\w+)\)", lambda v: variables.get(v.group(1), ""), text)
        return text

    commands, seen = [], set()

    def visit(name: str) -> None:
        for key in (name, *(k for k in rules if expand(k) == name)):
            if key in rules and key not in seen and key not in skip:
                seen.add(key)
                prerequisites, lines = rules[key]
                for p in prerequisites:
                    visit(expand(p))
                commands.extend(expand(line) for line in lines)

    visit(target)
    return commands


def as_windows(command: str) -> str:
    """A Makefile command as typed on Windows: .venv\\Scripts\\ for .venv/bin/, py for python3."""
    words = [w for w in command.lstrip("@").split() if w not in QUIET and w != ">/dev/null"]
    if words[0] == "python3":
        words[0] = "py"
    return " ".join(words).replace(".venv/bin/", ".venv\\Scripts\\")


def test_the_windows_commands_are_the_makefiles_demo_commands():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"\*\*Windows, without make\*\*.*?```bat\n(.*?)```", readme, re.S).group(1)
    typed = [line.strip() for line in block.splitlines() if line.strip()]
    made = [as_windows(c) for c in recipe(makefile, "demo") if not c.startswith(("touch", "@echo"))]
    assert made == typed
    assert any("[demo]" in c for c in made) and any(c.endswith("micrograd-ws train") for c in made)


def test_make_demo_installs_only_the_demo_extra_and_make_test_the_rest():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo = " ".join(recipe(makefile, "demo"))
    assert "torch" not in demo and "[dev" not in demo and '-e ".[demo]"' in demo, demo
    assert ".[dev,torch]" in " ".join(recipe(makefile, "test"))
    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    extra = re.search(r"^demo =\n((?:    .*\n)+)", setup, re.M).group(1).split()
    assert sorted(e.split(">")[0] for e in extra) == ["graphviz", "matplotlib", "tqdm"]
