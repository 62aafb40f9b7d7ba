"""CLI for the discrete family (being written)."""


def register(commands):
    pass
