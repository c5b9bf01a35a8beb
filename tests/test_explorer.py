"""The explorer's data and errors, checked in Python (the page itself: test_explorer_browser.py)."""
import json
import re

import pytest

import micrograd_ws.explorer as ex
from micrograd_ws import Value, explore, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.cli import main
from micrograd_ws.explorer import ExploreError, learn
from micrograd_ws.paths import Analysis, Edge, Graph


def _cost(hidden=None, seed=0, x=2.0, y=1.0, backward=True):
    net = two_neuron(seed=seed) if hidden is None else two_hidden_layers(hidden=hidden, seed=seed)
    C = squared_error(net(x), y)
    if backward:
        C.backward()
    return net, C


def test_steps_are_the_engine_order_and_backward_steps():
    net, C = _cost(hidden=3)
    page = explore(C)
    d = page.data
    steps = list(C.backward_steps())  # a second pass: the same steps, grads doubled on leaves (not used)
    assert [d["names"][s["node"]] for s in d["backward"]] == [s.node.label or s.node.op for s in steps]
    assert [s["text"] for s in d["backward"]] == [s.describe() for s in steps]
    assert page.steps == len(d["forward"]) + len(d["backward"]) == 2 * len(steps)


def test_page_gradients_are_the_engines_and_grads_are_left_alone():
    net, C = _cost(hidden=3)
    before = {n: p.grad for n, p in net.named_parameters()}
    d = explore(C).data
    assert {n: p.grad for n, p in net.named_parameters()} == before  # explore only looks
    shown = dict(zip(d["names"], d["grads"]))
    assert all(shown[n] == g for n, g in before.items())


def test_never_backwarded_cost_is_run_and_the_page_says_so():
    net, C = _cost(hidden=2, backward=False)
    d = explore(C).data
    assert "had not been called: explore ran it" in d["note"]
    reference = _cost(hidden=2)[0]
    assert [p.grad for p in net.parameters()] == [p.grad for p in reference.parameters()]


def test_bad_input_names_the_fix():
    with pytest.raises(ExploreError, match="is a leaf, with no graph to explore.*squared_error"):
        explore(Value(2.0, "w"))
    with pytest.raises(TypeError, match="call the net first"):
        explore(two_neuron())
    _, C = _cost(hidden=3)
    with pytest.raises(ValueError, match=r"no node labelled 'w2\[3\]\[9\]'.*did you mean"):
        explore(C, "w2[3][9]")


def test_too_large_for_the_graph_view_says_what_to_do_instead():
    net, C = _cost(hidden=30)  # 1,024 nodes
    steepest = max(net.named_parameters(), key=lambda item: abs(item[1].grad))[0]
    view = explore(C).data["graph"]  # no parameter asked: the one that moves C most, its paths
    assert f"the paths from {steepest}" in view["scope"]
    zero = squared_error(net(2.0), net(2.0).data)  # every gradient 0: nothing to draw the paths of
    zero.backward()
    view = explore(zero).data["graph"]
    assert "svg" not in view
    for words in ("too many for the graph view", "network view", "--param", "--hidden"):
        assert words in view["message"]
    one = explore(C, "w2[3][7]").data["graph"]  # one parameter's paths fit
    assert 'data-name="w2[3][7]"' in one["svg"] and "the paths from w2[3][7]" in one["scope"]


def test_without_dot_the_graph_view_says_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    _, C = _cost()
    page = explore(C)
    assert "Install Graphviz" in page.data["graph"]["message"] and "network view works" in page.data["graph"]["message"]
    assert page.data["network"]["columns"][-1]["title"] == "C"


def test_network_view_has_the_handouts_layers(dot):
    net, C = _cost(hidden=4)
    d = explore(C).data
    cols = d["network"]["columns"]
    assert [c["title"] for c in cols] == ["i", "H1", "H2", "O", "C"]
    assert [len(c["neurons"]) for c in cols] == [1, 4, 4, 1, 1]
    w = [d["names"][k] for link in d["network"]["links"] for k in link["w"]]
    assert sorted(w) == sorted(n for n, _ in net.named_parameters() if n.startswith("w"))


def test_inspector_is_explain_and_paths_are_the_analysis(dot):
    net, C = _cost(hidden=4)
    d = explore(C).data
    k = d["names"].index("w1[0]")
    w = dict(net.named_parameters())["w1[0]"]
    from micrograd_ws import explain
    assert explain(C, w).format(total_digits=12) in d["inspect"][k]["text"]
    a = Analysis(C, w)  # the same analysis explain and draw_grad read
    assert d["paths"][k]["n"] == a.n_paths and len(d["paths"][k]["live"]) == sum(v in a.live for v in a.nodes)
    assert "<math" in d["inspect"][k]["html"]


LABELS = ['<script>window.pwned=1</script>', '"quoted" & \'single\'', "</script><b>", "∂é漢\u0007"]


@pytest.mark.parametrize("label", LABELS)
def test_every_label_is_escaped(dot, label):
    a = Value(1.5, label)
    b = Value(-2.0, "b")
    y = (a * b).relu() + a
    y.label = "y"
    y.backward()
    page = explore(y, label)
    html = page.html
    assert "<script>window.pwned" not in html and "</script><b>" not in html
    for piece in (page.data["graph"]["svg"], page.data["inspect"][0]["html"]):
        assert "<script" not in piece and "<b>" not in piece


def test_save_is_atomic_and_says_what_is_wrong(tmp_path):
    _, C = _cost()
    page = explore(C)
    target = tmp_path / "page.html"
    target.write_text("<!DOCTYPE html><p>an old page</p>")  # (a page replaces a page, nothing else)
    assert page.save(target) == target and target.read_text(encoding="utf-8") == page.html
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary left behind
    with pytest.raises(FileNotFoundError, match="does not exist"):
        page.save(tmp_path / "missing" / "page.html")


def test_jupyter_gets_the_page_and_a_static_fallback(dot):
    _, C = _cost()
    bundle = explore(C, "w1")._repr_mimebundle_()
    assert "∂C/∂w1 = ∂C/∂O · ∂O/∂w1" in bundle["text/plain"]
    assert bundle["image/svg+xml"].startswith("<svg")
    html = bundle["text/html"]
    assert 'class="mgws-static"' in html and "<iframe srcdoc=" in html and "<pre>" in html


def test_cli_writes_the_page_and_prints_its_path(tmp_path, capsys):
    out = tmp_path / "two.html"
    assert main(["explore", "--model", "two-neuron", "--x", "0.5", "--y", "1", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out.resolve())
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("argv, message", [
    (["--model", "two-neuron", "--hidden", "3"], "--hidden applies to --model mlp only"),
    (["--hidden", "2", "--param", "w9"], "no node labelled 'w9'"),
    (["--hidden", "2", "--out", "/dev/null/x.html"], "cannot write"),  # (a folder that is not one: not made)
    (["--hidden", "1000"], "more than a page holds (120,000, up to --hidden 342)"),  # refused before building
])
def test_cli_errors_name_the_fix(argv, message, capsys):
    assert main(["explore", *argv]) in (1, 2)
    assert message in capsys.readouterr().err


def test_the_page_needs_no_network():
    _, C = _cost()
    html = explore(C).html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html
    json.dumps(explore(C).data, allow_nan=False)  # the data is plain JSON


# --- issue 25 item 14: explore is linear in the graph, and says where it caps -------------------

def _chain(ops: int) -> Value:
    y = Value(0.5, "x")
    for _ in range(ops // 2):
        y = (y * 0.9).tanh()
    y.label = "C"
    y.backward()
    return y


def _edge_reads(monkeypatch, C: Value) -> int:
    """How often explore reads an edge's formula, symbol or local derivative (its work, not the clock's)."""
    count = [0]
    for attr in ("formula", "symbol", "local"):
        prop = getattr(Edge, attr)

        def counted(self, get=prop.fget):
            count[0] += 1
            return get(self)
        monkeypatch.setattr(Edge, attr, property(counted))
    explore(C)
    monkeypatch.undo()
    return count[0]


def test_explore_work_grows_linearly_past_its_caps(monkeypatch):
    """Every leaf's chain rule along a chain is quadratic (the leaf at the foot has n factors): the
    page explains within its caps, so four times the chain is at most about four times the work."""
    caps = {"MAX_EXPLAINED_FACTORS": 300, "MAX_GRAPH_NODES": 0}

    def work(ops):
        for k, v in caps.items():
            monkeypatch.setattr(ex, k, v)
        monkeypatch.setattr(learn, "MAX_DIAGNOSED_FACTORS", 8)
        return _edge_reads(monkeypatch, _chain(ops))

    small, large = work(60), work(240)
    assert large < 5 * small, (small, large)


def test_the_cap_is_said_with_the_way_around_it(monkeypatch):
    monkeypatch.setattr(ex, "MAX_EXPLAINED_FACTORS", 50)
    C = _chain(40)
    page = explore(C)
    assert "the other" in page.data["note"] and "explore(C, param=NAME)" in page.data["note"]
    short = [k for k, v in page.data["inspect"].items() if "not on this page" in v["text"]]
    assert short and "explain(C, " in page.data["inspect"][short[0]]["text"]
    assert short[0] not in page.data["paths"]
    v = Graph(C).order[short[0]]  # past the cap, unless it is the one asked for
    assert short[0] in explore(C, v).data["paths"]
    monkeypatch.setattr(ex, "MAX_NODES", 50)
    with pytest.raises(ExploreError, match="MAX_NODES = 50.*explain"):
        explore(C)


def test_open_says_so_when_no_browser_opens_the_page(tmp_path, capsys, monkeypatch):
    # found by a fresh-clone walk-through: --open without a browser exited 0 and said nothing
    import webbrowser
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or False)
    out = tmp_path / "p.html"
    assert main(["explore", "--model", "two-neuron", "--out", str(out), "--open"]) == 0
    assert opened == [out.resolve().as_uri()]
    assert f"no browser was found to open it here; open {out.resolve()} in one" in capsys.readouterr().err
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    assert main(["explore", "--model", "two-neuron", "--out", str(out), "--open"]) == 0
    assert "no browser" not in capsys.readouterr().err and len(opened) == 2
