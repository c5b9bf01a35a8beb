"""docs/reading.md's line counts are what ``wc -l`` gives today (the page says so; a change to a
file that forgets the page fails here), and every module of the package has its place there."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "micrograd_ws"
PAGE = (ROOT / "docs" / "reading.md").read_text(encoding="utf-8")


def lines(path: Path) -> int:
    return len(path.read_bytes().splitlines())


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def rows() -> dict[str, tuple[str, int]]:
    """Each room table row: its first cell's name -> (the row's text, its lines cell)."""
    found = {}
    for m in re.finditer(r"^\| `([\w./]+)` \|(.*)\| ([\d,]+) \|$", PAGE, re.M):
        found[m.group(1)] = (m.group(2), number(m.group(3)))
    return found


def test_the_paths_files_are_as_long_as_the_page_says():
    path = {}
    for m in re.finditer(r"^### \d\. `([\w.]+)` \(([\d,]+) lines\)", PAGE, re.M):
        path[m.group(1)] = number(m.group(2))
    m = re.search(r"^### 5\. The explanations: (.*)$", PAGE, re.M)
    for name, n in re.findall(r"`([\w.]+)` \(([\d,]+)\)", m.group(1)):
        path[name] = number(n)
    assert len(path) == 9, path
    assert {name: lines(PKG / name) for name in path} == path
    total = re.search(r"The path, files 1 to 6: ([\d,]+) lines", PAGE)
    assert number(total.group(1)) == sum(path.values())


def test_each_rooms_count_is_its_files_and_a_folders_the_sum_of_its_files():
    found = rows()
    assert len(found) > 20
    for name, (text, n) in found.items():
        target = PKG / name
        if name.endswith("/"):
            assert n == sum(lines(p) for p in files_of(target)), name
            # the files a folder's row counts one by one: "`trace.py` (..., 284)" or "`train` 192"
            for part, count in re.findall(r"`([\w.]+\.(?:py|js|css|html))` \([^()]*?([\d,]+)\)", text):
                assert lines(target / part) == number(count), (name, part)
            for part, count in re.findall(r"`(\w+)` ([\d,]+)\b", text):
                assert lines(target / f"{part}.py") == number(count), (name, part)
        else:
            assert n == lines(target), name


def test_every_module_of_the_package_has_a_place_on_the_page():
    found = rows()
    named = set(found) | set(re.findall(r"^### \d\. `([\w.]+)`", PAGE, re.M)) | \
        set(re.findall(r"`(\w+\.py)` \(\d+\)", PAGE))
    top = {p.name for p in PKG.iterdir() if p.suffix == ".py"} | \
        {p.name + "/" for p in PKG.iterdir() if p.is_dir() and p.name != "__pycache__"}
    m = re.search(r"^`__init__.py` \((\d+) lines\) is the public API", PAGE, re.M)
    assert int(m.group(1)) == lines(PKG / "__init__.py")
    assert sorted(top - named - {"__init__.py"}) == []


def test_the_package_size_in_the_first_line_is_about_right():
    m = re.search(r"holds about ([\d,]+) lines of Python", PAGE)
    python = sum(lines(p) for p in files_of(PKG) if p.suffix == ".py")
    assert abs(number(m.group(1)) - python) <= 500, python
    m = re.search(r"together about\s+([\d,]+)\s+lines: \*the path\*", PAGE)
    path = number(re.search(r"The path, files 1 to 6: ([\d,]+) lines", PAGE).group(1))
    assert abs(number(m.group(1)) - path) <= 100, path
