"""Save and load models as JSON (placeholder: being written for the training issue)."""


def save(model, path):
    raise NotImplementedError


def load(path):
    raise NotImplementedError
