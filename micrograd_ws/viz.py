"""Graphviz pictures of the graph and of each ∂C/∂w (placeholder: being written)."""


def draw_graph(root, **kwargs):
    raise NotImplementedError


def draw_grad(root, w, **kwargs):
    raise NotImplementedError


def render_grads(root, params, outdir, format="svg"):
    raise NotImplementedError


def add_arguments(parser):
    pass


def run(args):
    raise NotImplementedError
