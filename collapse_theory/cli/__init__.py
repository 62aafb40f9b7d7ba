"""The ``collapse-theory`` command.

Sub-commands are contributed by the modules of this package: each exposes
``register(commands)`` where ``commands`` maps a top-level command (``simulate``, ``figure``,
...) to its ``argparse`` sub-parser collection, and sets ``func`` on the parsers it adds.  Bad
input prints one line on stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys

from . import _common

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
        _common.check_sizes(args)
        return args.func(args) or 0
    except UsageError as err:
        return _fail(str(err))
    except (ValueError, TypeError, OverflowError, MemoryError, OSError) as err:
        # ValueError/TypeError: the argument checks.  The others are a last line of defence
        # for input that slipped past them (a huge size, a path that cannot be written).
        return _fail(f"collapse-theory: error: {_describe(err)}")
    except RuntimeError as err:  # XLA failing to allocate a buffer: too large an input
        if not _OUT_OF_MEMORY.search(str(err)):
            raise
        return _fail(f"collapse-theory: error: {_describe(MemoryError(str(err)))}")
    except KeyboardInterrupt:
        return 130


_OUT_OF_MEMORY = re.compile(r"Out of memory allocating \d+ bytes|RESOURCE_EXHAUSTED[^\n]*")


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, MemoryError):
        found = _OUT_OF_MEMORY.search(str(err))
        return (f"out of memory ({found.group(0) if found else text}); ask for smaller sample "
                f"sizes, fewer trials or generations, or record fewer generations")
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        return f"{text}: {err.filename!r}"
    return text


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
