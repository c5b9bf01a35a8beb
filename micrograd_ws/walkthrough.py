"""The `walkthrough` command (placeholder: being written)."""


def add_arguments(parser):
    pass


def run(args):
    raise NotImplementedError
