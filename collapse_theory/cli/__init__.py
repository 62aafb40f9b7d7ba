"""The ``collapse-theory`` command.

Sub-commands are contributed by the modules of this package: each exposes
``register(commands)`` where ``commands`` maps a top-level command (``simulate``, ``figure``,
...) to its ``argparse`` sub-parser collection, and sets ``func`` on the parsers it adds.  Bad
input prints one line on stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

_MODULES = ("gaussian", "discrete", "gmm", "kde")
_COMMANDS = {
    "simulate": "run a collapse chain, print a summary and optionally save an .npz",
    "figure": "write a figure (PNG)",
}


class UsageError(Exception):
    """Raised for bad command-line input; reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(prog="collapse-theory", description=__doc__.splitlines()[0])
    top = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands = {}
    for name, help_ in _COMMANDS.items():
        sub = top.add_parser(name, help=help_)
        commands[name] = sub.add_subparsers(dest="target", required=True, parser_class=_Parser)
    for module in _MODULES:
        importlib.import_module(f"{__name__}.{module}").register(commands)
    from . import verify

    verify.add_parser(top)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args) or 0
    except (UsageError, ValueError, TypeError) as err:
        print(f"collapse-theory: error: {err}" if not isinstance(err, UsageError) else str(err),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
