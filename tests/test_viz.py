"""Gradient pictures: structure of draw_grad / draw_graph, captions against the handout, real `dot`."""
import html
import math
import re
import struct
import sys
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from micrograd_ws import Value, draw_grad, draw_graph, render_grads, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.cli import main
from micrograd_ws.handout import MLPParams, mlp_forward, mlp_gradients
from micrograd_ws.testing import expressions
from micrograd_ws.viz import DotNotFoundError, grad_caption

graphviz = pytest.importorskip("graphviz")

INSTALL = ("sudo apt-get install graphviz", "brew install graphviz", "winget install graphviz")


# --- reading a picture back, independently of the code that drew it ---------------------

def parse(g):
    """({dot id: node name}, [(tail name, head name, number on the label)], fold node label or None)."""
    names, fold, edges = {}, None, []
    for line in g.body:
        m = re.match(r"\t(\w+) \[label=<(.*)", line)
        if m:
            bold = re.search(r"<B>(.*?)</B>", m.group(2))
            if m.group(1) == "folded":
                fold = html.unescape(bold.group(1))
            else:
                names[m.group(1)] = html.unescape(bold.group(1))
        m = re.match(r"\t(\w+) -> (\w+)(?: \[label=<(.*)>.*\])?", line)
        if m:
            number = re.search(r"= ([-+.\de]+)</FONT>", m.group(3) or "")
            edges.append((m.group(1), m.group(2), float(number.group(1)) if number else None))
    return names, [(names.get(a, a), names.get(b, b), x) for a, b, x in edges], fold


def all_paths(C, w):
    """Every path from C down to w as (child, parent index) steps: plain recursion, small graphs only."""
    if C is w:
        return [[]]
    return [[(C, i)] + rest for i, p in enumerate(C.parents) for rest in all_paths(p, w)]


def ancestors(v):
    """v and every node it depends on (plain recursion, small graphs only)."""
    return {v}.union(*map(ancestors, v.parents))


def total(caption):
    """The number the caption ends its chain rule with (its last row ``= number``)."""
    return float(re.findall(r"= (\S+)$", caption, re.M)[-1])


def handout_net(h, seed, i, O_des):
    net = two_hidden_layers(hidden=h, seed=seed)
    O = net(i)
    C = squared_error(O, O_des)
    C.backward()
    return net, O, C


MODELS = [("two-neuron", 0, 2.0, 1.0), ("two-neuron", 3, -1.5, 0.2), ("mlp", 2, 0.5, 1.0),
          ("mlp", 0, 0.5, 1.0), ("mlp", 3, -1.0, 2.0)]


def build(model, seed, i, O_des):
    if model == "two-neuron":
        net = two_neuron(seed=seed)
        C = squared_error(net(i), O_des)
        C.backward()
        return net, C
    net, _, C = handout_net(3, seed, i, O_des)
    return net, C


# --- structure ----------------------------------------------------------------------------

@pytest.mark.parametrize("model, seed, i, O_des", MODELS)
@pytest.mark.parametrize("show_zero_paths", [True, False])
def test_draw_grad_keeps_exactly_the_paths_and_their_local_derivatives(model, seed, i, O_des, show_zero_paths):
    net, C = build(model, seed, i, O_des)
    for pname, w in net.named_parameters():
        ps = all_paths(C, w)
        live = [p for p in ps if all(c.local_grads[k] != 0.0 for c, k in p)]
        shown = ps if show_zero_paths or not live else live
        g = draw_grad(C, w, show_zero_paths=show_zero_paths)
        names, edges, fold = parse(g)
        on_paths = {c.label for p in shown for c, _ in p} | {c.parents[k].label for p in shown for c, k in p}
        assert set(names.values()) == on_paths, pname
        expected = {(c.parents[k].label, c.label, c.local_grads[k]) for p in shown for c, k in p}
        drawn = {(a, b, x) for a, b, x in edges if x is not None}
        assert {(a, b) for a, b, _ in drawn} == {(a, b) for a, b, _ in expected}
        for a, b, x in drawn:
            (local,) = {d for p, c, d in expected if (p, c) == (a, b)}
            assert x == pytest.approx(local, rel=5e-4, abs=1e-12), (pname, a, b)
        n_zero = len(ps) - len(live)
        if shown is live and n_zero:
            assert fold == f"{n_zero} path{'s' * (n_zero > 1)} contribute{'s' * (n_zero == 1)} 0"
        else:
            assert fold is None
        assert total(g.caption) == pytest.approx(w.grad, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed, i, O_des", [(0, 0.5, 1.0), (1, 2.0, -1.0), (2, 0.5, 1.0), (5, -0.7, 0.3)])
def test_captions_equal_the_handout_gradients(seed, i, O_des):
    net, O, C = handout_net(4, seed, i, O_des)
    expected = mlp_gradients(MLPParams.from_state_dict(net.state_dict()), i, O_des)
    for pname, w in net.named_parameters():
        assert total(grad_caption(C, w)) == pytest.approx(expected[pname], rel=1e-9, abs=1e-12), pname


def test_single_path_caption_reads_like_the_handout():
    net, O, C = handout_net(4, 0, 2.0, 1.0)
    f = mlp_forward(MLPParams.from_state_dict(net.state_dict()), 2.0)
    for j in range(4):
        for k in range(4):
            one_line = " ".join(grad_caption(C, f"w2[{j}][{k}]").split())
            step = 1 if f.H2[j] != 0 else 0
            assert one_line.startswith(
                f"∂C/∂w2[{j}][{k}] = ∂C/∂O · ∂O/∂H2[{j}] · ∂H2[{j}]/∂z2[{j}] · ∂z2[{j}]/∂w2[{j}][{k}] "
                f"= 2(O − O_des) · w3[{j}] · {step} · H1[{k}] = "
            )
            numbers = one_line.split(" = ")[3]
            factors = [float(x.strip("()")) for x in numbers.split(" · ")]
            assert factors == pytest.approx([2 * (f.O - 1.0), net.state_dict()["w3"][0][j], step, f.H1[k]], rel=1e-3)
    assert " ".join(grad_caption(C, "b3").split()).startswith("∂C/∂b3 = ∂C/∂O · ∂O/∂b3 = 2(O − O_des) · 1 = ")


def test_several_paths_are_summed_and_zero_paths_counted():
    kinds = set()
    for seed in range(6):
        net, O, C = handout_net(4, seed, 0.5, 1.0)
        p = MLPParams.from_state_dict(net.state_dict())
        f = mlp_forward(p, 0.5)
        dead = {j for j in range(4) if f.H2[j] == 0}
        caption = grad_caption(C, "w1[1]", max_terms=4)
        lines, text = caption.splitlines(), " ".join(caption.split())
        assert lines[0] == ("∂C/∂w1[1] = Σ_j ∂C/∂O · ∂O/∂H2[j] · ∂H2[j]/∂z2[j] · ∂z2[j]/∂H1[1] · ∂H1[1]/∂z1[1] "
                            "· ∂z1[1]/∂w1[1]")
        relu2 = "∂H2[j]/∂z2[j]" if dead else "1"  # a number only when it is the same on every path
        relu1 = "1" if f.H1[1] else "0"
        assert lines[1].split("= Σ_j ")[1] == f"2(O − O_des) · w3[j] · {relu2} · w2[j][1] · {relu1} · i"
        terms = {int(j): float(x) for j, x in re.findall(r"^ +j = (\d+): .* = (\S+)$", caption, re.M)}
        zero_js = {int(j) for j in re.findall(r"∂H2\[(\d)\]/∂z2\[\1\] = 0", text)}
        if f.H1[1] == 0:  # every path passes the dead H1[1]
            kinds.add("all zero")
            assert "all 4 paths are 0, through the zero factor ∂H1[1]/∂z1[1] = 0 (the ReLU H1[1] is off" in text
            assert not terms and total(caption) == 0
        else:
            kinds.add("some zero" if dead else "none zero")
            assert zero_js == dead and set(terms) == set(range(4)) - dead  # one term per live path
            for j, x in terms.items():  # the handout's product along path j
                assert x == pytest.approx(2 * (f.O - 1.0) * p.w3[j] * p.w2[j][1] * 0.5, rel=1e-3), (seed, j)
            if dead:
                assert f"{len(dead)} more path{' is' if len(dead) == 1 else 's are'} 0, through the zero" in text
    assert kinds == {"all zero", "some zero", "none zero"}  # the seeds cover each case


def test_many_paths_fold_and_caption_stays_short():
    net, O, C = handout_net(30, 0, 0.5, 1.0)
    f = mlp_forward(MLPParams.from_state_dict(net.state_dict()), 0.5)
    k = next(k for k in range(30) if f.H1[k] > 0)
    w = dict(net.named_parameters())[f"w1[{k}]"]
    n_dead = sum(h == 0 for h in f.H2)
    g = draw_grad(C, w, max_terms=3)
    names, edges, fold = parse(g)
    assert fold == f"{n_dead} paths contribute 0"
    more = names.pop("more")  # the live paths past max_terms: one node, as the caption's one row
    assert len(names) == 3 + 2 * 3 + 2  # w1, z1, H1; z2[j], H2[j] of the 3 listed paths; O, C
    text = " ".join(g.caption.split())
    shown = [int(j) for j in re.findall(r"^ +j = (\d+):", g.caption, re.M)]
    rest = re.search(rf"… and {30 - n_dead - 3} more paths with a nonzero product, together (\S+):", text)
    assert len(shown) == 3 and rest, g.caption
    p = MLPParams.from_state_dict(net.state_dict())
    hidden = [j for j in range(30) if f.H2[j] != 0 and j not in shown]  # the handout's paths not listed
    assert float(rest.group(1)) == pytest.approx(math.fsum(2 * (f.O - 1.0) * p.w3[j] * p.w2[j][k] * 0.5
                                                           for j in hidden), rel=1e-3)
    assert more == f"{30 - n_dead - 3} more paths, together {rest.group(1)}"
    assert {f"z2[{j}]" for j in shown} == {n for n in names.values() if n.startswith("z2")}
    assert sum(1 for a, b, _ in edges if more in (a, b)) == 2  # leaves H1[k], rejoins O
    assert f"{n_dead} more paths are 0, through the zero factors" in text and "(ReLUs that are off)" in text
    assert total(g.caption) == pytest.approx(w.grad, rel=1e-9)
    assert len(draw_grad(C, w, show_zero_paths=True).body) > len(g.body)


@settings(max_examples=40)
@given(expressions(max_steps=6))
def test_caption_total_is_the_gradient_on_random_graphs(expr):
    xs = [Value(x, label=f"x{k}") for k, x in enumerate(expr.inputs)]
    out = expr(*xs)
    out.backward()
    for x in xs:
        g = draw_grad(out, x)
        assert total(g.caption) == pytest.approx(x.grad, rel=1e-9, abs=1e-9)
        names, edges, _ = parse(g)
        assert len(edges) >= (1 if x.grad != 0 else 0)


def test_no_path_self_and_label_lookup():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    c = a * a
    c.label = "c"
    c.backward()
    assert grad_caption(c, b).splitlines() == ["∂c/∂b = 0", "          c does not depend on b: no path leads from b up to c"]
    names, edges, _ = parse(draw_grad(c, b))
    assert sorted(names.values()) == ["b", "c"] and edges == []
    assert grad_caption(c, c).splitlines() == ["∂c/∂c = 1", "          c is the root itself"]
    caption = grad_caption(c, "a")  # two paths: a is both factors
    assert total(caption) == a.grad == 4.0 and "∂c/∂a · ∂c/∂a" not in caption and " + " in caption
    with pytest.raises(ValueError, match=r"^draw_grad: no node labelled 'w9' in the graph of c; did you mean a or c\?$"):
        draw_grad(c, "w9")
    with pytest.raises(ValueError, match="did you mean a"):
        draw_grad(c, "aa")


def test_bad_arguments_say_what_to_pass():
    net = two_neuron()
    with pytest.raises(TypeError, match=r"expected a Value, got MLP \(call the net first"):
        draw_grad(net, net.parameters()[0])
    with pytest.raises(TypeError, match="expected a Value, got float"):
        draw_graph(1.5)
    C = squared_error(net(1.0), 0.0)
    with pytest.raises(ValueError, match="format must be one of svg, png, pdf, dot"):
        render_grads(C, net.named_parameters(), "unused", format="gif")
    with pytest.raises(TypeError, match="parameter 0 is 3"):
        render_grads(C, [3], "unused")
    with pytest.raises(ValueError, match="max_terms must be a whole number ≥ 0, got '3'"):
        draw_grad(C, "w1", max_terms="3")
    with pytest.raises(ValueError, match="max_nodes must be a whole number ≥ 1, got 0"):
        draw_graph(C, max_nodes=0)
    with pytest.raises(ValueError, match="rankdir must be 'LR'"):
        draw_grad(C, "w1", rankdir="left")


def test_without_backward_the_picture_says_so():
    net = two_neuron()
    C = squared_error(net(1.0), 0.0)
    assert "call C.backward() first" in draw_grad(C, "w1").caption
    C.backward()
    assert "backward" not in draw_grad(C, "w1").caption


def test_draw_graph_shows_every_node_and_refuses_huge_graphs():
    net, O, C = handout_net(3, 2, 0.5, 1.0)
    names, edges, _ = parse(draw_graph(C))
    nodes = ancestors(C)
    assert sorted(names.values()) == sorted(v.label for v in nodes)
    assert len(edges) == sum(len(v.parents) for v in nodes)
    assert all(x is not None for _, _, x in edges)
    big = handout_net(20, 0, 0.5, 1.0)[2]
    with pytest.raises(ValueError) as err:
        draw_graph(big)
    msg = str(err.value)
    n = (20 + 20 + 20 * 20 + 20 + 20 + 1) + 1 + 4 * 20 + 2  # parameters, i, z1 H1 z2 H2, O and C
    assert f"{n} nodes, more than max_nodes=500" in msg and "draw_grad(C, w)" in msg
    assert "hidden=4" in msg and f"max_nodes={n}" in msg
    assert len(draw_graph(big, max_nodes=n).body) > n


# --- real dot ------------------------------------------------------------------------------

def test_render_svg_png_pdf_with_dot(dot, tmp_path):
    net, O, C = handout_net(3, 2, 0.5, 1.0)
    g = draw_grad(C, "w1[0]")
    svg = g.render(filename=tmp_path / "w1.dot", outfile=tmp_path / "w1.svg")
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = "".join(root.itertext())
    assert "∂C/∂w1[0]" in texts and "H1[0]" in texts and "contributes 0" in texts
    png = (tmp_path / "w1.png")
    g.render(filename=tmp_path / "w1.dot", outfile=png)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 400 and 100 < height < width
    g.render(filename=tmp_path / "w1.dot", outfile=tmp_path / "w1.pdf")
    assert (tmp_path / "w1.pdf").read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / "w1.dot").read_text(encoding="utf-8") == g.source


def test_jupyter_displays_the_picture_inline_even_untrusted(dot):
    net, O, C = handout_net(2, 0, 0.5, 1.0)
    for g in (draw_grad(C, "b3"), draw_graph(C)):
        assert isinstance(g, graphviz.Digraph)
        bundle, metadata = g._repr_mimebundle_()
        # a PNG: shown in an untrusted notebook (which hides SVG), fitted to the cell, no script
        assert sorted(bundle) == ["image/png", "text/plain"]
        png = bundle["image/png"]
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        svg = ET.fromstring(g._repr_mimebundle_(include=["image/svg+xml"])[0]["image/svg+xml"].encode())
        svg_px = float(svg.get("width").removesuffix("pt")) * 4 / 3
        assert metadata["image/png"]["width"] == pytest.approx(svg_px, abs=2)  # 144 dpi shown at the SVG's size
        assert int.from_bytes(png[16:20], "big") == pytest.approx(1.5 * svg_px, abs=3)
        assert "object at" not in bundle["text/plain"] and "g.render(" in bundle["text/plain"]


def test_the_picture_says_what_it_is_at_the_prompt(dot):
    net, O, C = handout_net(2, 0, 0.5, 1.0)
    g = draw_grad(C, "w2[1][0]")
    assert str(g) == g.caption and g.caption.startswith("∂C/∂w2[1][0] = ")  # print(g): the chain rule
    said = repr(g)
    assert said.startswith("<draw_grad picture: the derivative graph of ∂C/∂w2[1][0], ")
    assert "print(g) or g.caption" in said and "g.render('w2_1_0', format='svg') writes w2_1_0.svg" in said
    assert repr(draw_graph(C)).startswith("<draw_graph picture: the whole graph of C, ")


NASTY = ['"', "<>", "\\", "\\\\\"", "a\nb", "{x}", "[];", "</B>", "&amp;", "\x00\x7f", "∂²/∂w²", "🙂",
         "\ud800", "\ufffe", "-- ->", "x" * 500, "<<TABLE>>", "'", "\\N \\G \\l"]


@settings(max_examples=40, suppress_health_check=[*settings().suppress_health_check,
                                                   HealthCheck.function_scoped_fixture])  # dot: a path, no state
@given(st.lists(st.text(max_size=40), min_size=1, max_size=4))
@example(NASTY[:10])
@example(NASTY[10:])
def test_any_label_gives_dot_that_dot_accepts(dot, labels):
    v = Value(1.0, label=labels[0])
    for k, label in enumerate(labels[1:]):
        v = v * Value(k + 2.0, label=label)
        v.label = label
    C = squared_error(v, 0.5)
    C.backward()
    leaf = v if not v.parents else v.parents[0]
    while leaf.parents:
        leaf = leaf.parents[0]
    for g in (draw_graph(C), draw_grad(C, leaf, show_zero_paths=True)):
        done = subprocess.run([dot, "-Tsvg"], input=g.source.encode("utf-8"), capture_output=True, timeout=60)
        assert done.returncode == 0 and not done.stderr, done.stderr.decode(errors="replace")
        texts = " ".join(" ".join(ET.fromstring(done.stdout).itertext()).split())
        for label in labels:
            if label.isprintable() and label.strip() and len(label) <= 40:
                assert " ".join(label.split()) in texts


# --- missing dot ---------------------------------------------------------------------------

@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_missing_dot_explains_how_to_install_and_keeps_the_source(no_dot, tmp_path):
    net, O, C = handout_net(2, 0, 0.5, 1.0)
    g = draw_grad(C, "w1[0]")
    with pytest.raises(DotNotFoundError) as err:
        g.render(filename=tmp_path / "w1.dot", format="svg")
    assert all(cmd in str(err.value) for cmd in INSTALL) and str(tmp_path / "w1.dot") in str(err.value)
    assert (tmp_path / "w1.dot").read_text(encoding="utf-8") == g.source
    shown = g._repr_mimebundle_()  # Jupyter without dot: the caption as text, and what to install
    assert list(shown) == ["text/plain"] and shown["text/plain"].startswith(g.caption)
    assert all(cmd in shown["text/plain"] for cmd in INSTALL)
    out = tmp_path / "gallery"
    with pytest.raises(DotNotFoundError, match=r"gallery/\*\.dot"):
        render_grads(C, net.named_parameters(), out, format="png")
    sources = sorted(p.name for p in out.glob("*.dot"))
    assert len(sources) == len(net.parameters()) and "w2_1_0.dot" in sources
    ET.parse(out / "index.html")  # the gallery, linking the sources
    assert 'href="w2_1_0.dot"' in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("format", ["svg", "png", "pdf"])
def test_without_dot_the_gallery_links_the_sources_and_says_why(no_dot, tmp_path, format):
    net, O, C = handout_net(2, 0, 0.5, 1.0)
    with pytest.raises(DotNotFoundError):
        render_grads(C, net, tmp_path, format=format)
    root, links = gallery(tmp_path / "index.html")
    files = [link for link in links if not link.startswith("#")]
    assert files and all((tmp_path / link).is_file() and link.endswith(".dot") for link in files), files
    assert not list(tmp_path.glob(f"*.{format}"))
    text = " ".join("".join(root.itertext()).split())
    assert "dot program was not found, so the pictures were not rendered" in text
    assert "DOT source (.dot) instead" in text and "dot -Tsvg -O *.dot" in text
    assert all(cmd in text for cmd in INSTALL)


def test_cli_without_dot_fails_clearly_and_writes_sources(no_dot, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["graphs", "--model", "two-neuron", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "micrograd-ws graphs: error: Graphviz's `dot` program was not found" in err
    assert all(cmd in err for cmd in INSTALL)
    assert sorted(p.name for p in out.iterdir()) == ["b1.dot", "index.html", "w1.dot"]


# --- the gallery and the command --------------------------------------------------------------

def gallery(index):
    """The index as XML (so it must be well formed) and its relative links."""
    root = ET.parse(index).getroot()
    links = [a.get("href") for a in root.iter("a")] + [img.get("src") for img in root.iter("img")]
    return root, links


def test_cli_two_neuron_writes_a_picture_per_parameter_and_an_index(dot, tmp_path, capsys):
    out = tmp_path / "graphs"
    assert main(["graphs", "--model", "two-neuron", "--out", str(out), "--x", "2", "--y", "1"]) == 0
    assert "open" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["b1.dot", "b1.svg", "index.html", "w1.dot", "w1.svg"]
    root, links = gallery(out / "index.html")
    for link in links:
        assert link.startswith("#") or (out / link).is_file(), link
    net = two_neuron(seed=0)
    C = squared_error(net(2.0), 1.0)
    C.backward()
    text = "".join(root.itertext())
    for pname, w in net.named_parameters():
        assert f"∂C/∂{pname} = {w.grad:.12g}" in text
        assert ET.parse(out / f"{pname}.svg").getroot().tag.endswith("svg")
    assert "= 2(O − O_des) · i" in text


def test_cli_mlp_formats_and_selection(dot, tmp_path):
    assert main(["graphs", "--model", "mlp", "--hidden", "2", "--out", str(tmp_path / "a"), "--format", "dot"]) == 0
    assert len(list((tmp_path / "a").glob("*.dot"))) == 2 + 2 + 4 + 2 + 2 + 1
    assert main(["graphs", "--hidden", "3", "--out", str(tmp_path / "b"), "--format", "png",
                 "--only", "w1[0], w2[0][0],b3"]) == 0
    assert sorted(p.name for p in (tmp_path / "b").glob("*.png")) == ["b3.png", "w1_0.png", "w2_0_0.png"]
    root, links = gallery(tmp_path / "b" / "index.html")
    assert "w2_0_0.png" in links and "MLP(1 → 3 → 3 → 1" in "".join(root.itertext())


@pytest.mark.parametrize("argv, message", [
    (["--model", "two-neuron", "--hidden", "4"], "--hidden applies to --model mlp only"),
    (["--only", "w7[0]"], "no parameter named 'w7[0]'"),
    (["--hidden", "4", "--only", "w1[9]"], "did you mean w1[0], w1[1] or w1[2]?"),
    (["--only", "b3[0]"], "no parameter named 'b3[0]'; did you mean b3, "),
    (["--only", "W1[0]"], "did you mean w1[0], "),
])
def test_cli_errors_name_the_fix(argv, message, tmp_path, capsys):  # (the same look-up as explain)
    assert main(["graphs", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [(["--x", "nan"], "finite"), (["--hidden", "0"], "from 1 to 1000"),
                                           (["--format", "gif"], "invalid choice")])
def test_cli_rejects_bad_values(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(["graphs", *argv])
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_gallery_escapes_any_parameter_name(tmp_path):
    a, b = Value(1.5, label='<script>"&'), Value(-2.0, label="w[1]")
    C = squared_error(a * b, 0.0)
    C.backward()
    index = render_grads(C, {'<script>"&': a, "w[1]": b, "w 1": b}, tmp_path, format="dot")
    root, links = gallery(index)
    text = "".join(root.itertext())
    assert "<script>\"& = 12" in text and "∂C/∂w[1] = -9" in text
    assert "<script>" not in index.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.glob("*.dot")) == ["script.dot", "w_1-2.dot", "w_1.dot"]
    assert math.isclose(a.grad, 2 * (a.data * b.data) * b.data)


def test_render_grads_takes_labels_as_draw_grad_does(tmp_path):
    net, O, C = handout_net(3, 2, 0.5, 1.0)
    index = render_grads(C, ["b3", "w1[0]"], tmp_path, format="dot")
    assert sorted(p.name for p in tmp_path.glob("*.dot")) == ["b3.dot", "w1_0.dot"]
    text = "".join(gallery(index)[0].itertext())
    for label in ("b3", "w1[0]"):
        assert draw_grad(C, label).caption in text
    mixed = dict(net.named_parameters())
    render_grads(C, "w2[0][1]", tmp_path / "one", format="dot")  # one label
    render_grads(C, [mixed["b3"], "b2[1]", ("the w3[0]", mixed["w3[0]"])], tmp_path / "mixed", format="dot")
    assert [p.name for p in (tmp_path / "one").glob("*.dot")] == ["w2_0_1.dot"]
    assert sorted(p.name for p in (tmp_path / "mixed").glob("*.dot")) == ["b2_1.dot", "b3.dot", "the_w3_0.dot"]
    with pytest.raises(ValueError, match=r"render_grads: no node labelled 'w9\[0\]'.*did you mean"):
        render_grads(C, ["b3", "w9[0]"], tmp_path / "bad", format="dot")
    assert not (tmp_path / "bad").exists()  # checked before anything is written
    with pytest.raises(TypeError, match="a list of Values or of labels"):
        render_grads(C, [3.0], tmp_path / "bad", format="dot")


def test_a_second_gallery_in_the_same_folder_removes_the_pictures_it_does_not_draw_again(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["graphs", "--format", "dot", "--out", str(out), "--only", "b3,w1[0],w2[0][1]"]) == 0
    (out / "notes.txt").write_text("mine")
    (out / "w9.dot").write_text("not listed by the gallery: never removed")
    capsys.readouterr()
    assert main(["graphs", "--format", "dot", "--out", str(out), "--only", "b3"]) == 0
    assert "removed 2 files an earlier run drew there" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["b3.dot", "index.html", "notes.txt", "w9.dot"]
    root, links = gallery(out / "index.html")
    assert all(not link.startswith("w1") for link in links)
    # the library too; an index.html that is not a gallery's lists nothing, and nothing goes
    net, O, C = handout_net(3, 2, 0.5, 1.0)
    render_grads(C, ["b3", "w1[0]"], out, format="dot")
    render_grads(C, ["w1[0]"], out, format="dot")
    assert sorted(p.name for p in out.glob("*.dot")) == ["w1_0.dot", "w9.dot"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "b3.dot").write_text("a file of the user's")
    (other / "index.html").write_text('<p>b3.dot <meta name="description" content="b3.dot"/></p>')
    render_grads(C, ["w1[0]"], other, format="dot")
    assert (other / "b3.dot").read_text() == "a file of the user's"


@pytest.mark.parametrize("argv, said", [(["--only", "b3"], "wrote 1 DOT source of ∂C/∂w"),
                                        (["--only", "b3,w1[0]"], "wrote 2 DOT sources of ∂C/∂w")])
def test_cli_counts_what_it_wrote_in_good_english(tmp_path, capsys, argv, said):
    assert main(["graphs", "--format", "dot", "--out", str(tmp_path), *argv]) == 0
    assert said in capsys.readouterr().out


def test_cli_says_one_picture_not_pictures(dot, tmp_path, capsys):
    assert main(["graphs", "--only", "b3", "--out", str(tmp_path)]) == 0
    assert "wrote 1 SVG picture of ∂C/∂w" in capsys.readouterr().out


def test_an_unlabelled_root_is_named_without_internal_ids():
    x = Value(0.5, label="x")
    y = x
    for _ in range(600):
        y = y * 1.0
    y = (y + 2.0).tanh()
    y.backward()
    with pytest.raises(ValueError) as err:
        draw_grad(y, x)
    caption = grad_caption(y, x)
    for text in (str(err.value), caption):
        assert not re.search(r"\bv\d+", text), text
    assert "the graph of ∂(tanh(… + 2))/∂x has 603 nodes" in str(err.value)
    assert caption.startswith("∂(tanh(… + 2))/∂x = ∂(tanh(… + 2))/∂(…·1 + 2) · ")
    assert "= (1 − tanh²(…·1 + 2)) · 1 · 1 · " in caption  # the tanh's argument in one pair of parentheses


def test_missing_graphviz_package_says_what_to_install(monkeypatch, tmp_path, capsys):
    from micrograd_ws import viz

    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now raises ImportError
    viz._picture_class.cache_clear()
    try:
        assert main(["graphs", "--model", "two-neuron", "--out", str(tmp_path)]) == 1
        assert "pip install graphviz" in capsys.readouterr().err
    finally:
        viz._picture_class.cache_clear()


def test_demo_writes_both_galleries(dot, tmp_path):
    demo = Path(__file__).resolve().parents[1] / "demos" / "gradient_graphs.py"
    done = subprocess.run([sys.executable, str(demo), "--hidden", "6", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "∂C/∂w1[0] = Σ_j ∂C/∂O · ∂O/∂H2[j] · ∂H2[j]/∂z2[j] · ∂z2[j]/∂H1[0]" in out
    listed = len(re.findall(r"^ +j = \d:", out, re.M))
    zero = re.search(r"(\d) more paths? (?:is|are) 0", out)
    assert listed + (int(zero.group(1)) if zero else 0) == 6  # the sum covers the 6 paths through z2[j]
    checks = re.findall(r"^ +\S+ +[\d.]+s +[\d.]+s +(\S+)$", out, re.M)  # caption total − w.grad
    assert len(checks) == 6 and all(abs(float(x)) < 1e-9 for x in checks)
    for folder, n in (("two_neuron", 2), ("handout_net", 6)):
        assert len(list((tmp_path / folder).glob("*.svg"))) == n
        gallery(tmp_path / folder / "index.html")


def test_cli_draws_one_of_each_kind_past_max_params(tmp_path, capsys):
    assert main(["graphs", "--format", "dot", "--hidden", "40", "--out", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert "This net has 1761 parameters, more than --max-params 500: drawing one of each kind " \
           "(w1[0], b1[0], w2[0][0], b2[0], w3[0], b3)" in said
    assert sorted(p.name for p in tmp_path.glob("*.dot")) == sorted(
        ["w1_0.dot", "b1_0.dot", "w2_0_0.dot", "b2_0.dot", "w3_0.dot", "b3.dot"])


def test_cli_out_that_is_a_file_is_named_with_the_fix(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("notes")
    assert main(["graphs", "--model", "two-neuron", "--format", "dot", "--out", str(afile)]) == 1
    assert capsys.readouterr().err == (f"micrograd-ws graphs: error: --out {afile} is a file; give a directory for "
                                       "the pictures and their index.html\n")
    assert main(["graphs", "--model", "two-neuron", "--format", "dot", "--out", str(afile / "sub")]) == 1
    assert "a folder on its way is a file" in capsys.readouterr().err
    assert afile.read_text() == "notes"
