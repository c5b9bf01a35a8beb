"""Step through the reverse pass and explain gradients (placeholder: being written)."""


def backward_steps(root, gradient=1.0):
    raise NotImplementedError


def explain(root, w):
    raise NotImplementedError
