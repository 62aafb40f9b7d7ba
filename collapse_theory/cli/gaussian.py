"""CLI for the gaussian family (being written)."""


def register(commands):
    pass
