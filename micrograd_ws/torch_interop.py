"""Convert between MLP and torch.nn.Module (placeholder: being written)."""


def to_torch(model):
    raise NotImplementedError


def from_torch(module):
    raise NotImplementedError
