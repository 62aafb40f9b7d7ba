"""The ``collapse-theory`` command.

Its description (``collapse-theory --help``) is :data:`DESCRIPTION`.  Sub-commands are contributed by the modules of this package: each exposes
``register(commands)`` where ``commands`` maps a top-level command (``simulate``, ``figure``,
...) to its ``argparse`` sub-parser collection, and sets ``func`` on the parsers it adds.  Bad
input prints one line on stderr and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading

from . import _common

_MODULES = ("gaussian", "discrete", "gmm", "kde", "vae", "lm")
_COMMANDS = {
    "simulate": "run a collapse chain, print a summary and optionally save an .npz",
    "figure": "write a figure (any format matplotlib writes, chosen by --out's extension)",
}

DESCRIPTION = (
    "Model collapse, simulated: refit a model (Gaussian, categorical, Gaussian mixture, kernel "
    "density, a VAE on 8x8 digits, n-gram and transformer language models) to samples of the "
    "previous fit, generation after generation, for thousands of independent chains at once, and"
    " compare with the closed forms. 'simulate FAMILY' runs chains and prints a table per "
    "generation (--out saves the records as .npz); 'figure NAME' draws a figure; 'verify' checks"
    " every closed form against simulation; 'reproduce' runs the paper's experiments and sets "
    "its numbers beside ours. Bad input is refused before any work, in one line on"
    " stderr with exit status 2; Ctrl-C stops a run with exit status 130 and leaves no partial "
    "file.")

#: An option's value that starts with ``-`` but is a number or a comma list of numbers
#: (``--probs -0.1,1.1``, ``--tail-threshold -1e-3``): read as a value, never as an option.
_NUMBERS = re.compile(r"^-(\d+\.?\d*|\.\d+)(e[-+]?\d+)?(,\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?)*$",
                      re.IGNORECASE)


class UsageError(Exception):
    """Raised for bad command-line input; reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """One-line errors; negative numbers and number lists are values, never options."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NUMBERS

    def error(self, message):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(prog="collapse-theory", description=DESCRIPTION)
    top = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands = {}
    for name, help_ in _COMMANDS.items():
        sub = top.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".")
        commands[name] = sub.add_subparsers(dest="target", required=True, parser_class=_Parser)
    for module in _MODULES:
        importlib.import_module(f"{__name__}.{module}").register(commands)
    from . import reproduce, verify

    verify.add_parser(top)
    reproduce.add_parser(top)
    return parser


def main(argv=None) -> int:
    _common.progress_shown(reset=True)
    try:
        args = build_parser().parse_args(argv)
        _common.check_sizes(args)
        return _interruptible(args.func, args) or 0
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
        # A progress meter may have left its line open: "interrupted" gets a line of its own.
        return _fail(("\n" if _common.progress_shown() else "") + "interrupted", status=130)


def _interruptible(func, args):
    """``func(args)``, run so that Ctrl-C acts at once.

    A compiled block of a chain does not return to Python until it is done, so a ``SIGINT``
    raised in the thread that runs it waits for the block (minutes for a long run).  The work
    therefore runs in a worker thread while the main thread waits in short, interruptible
    joins; on Ctrl-C the main thread deletes the temporary files of writes in flight (the
    targets are left as they were), says "interrupted" and ends the process with status 130.
    An exception of the worker (``KeyboardInterrupt`` included) is raised here.
    """
    if threading.current_thread() is not threading.main_thread():
        return func(args)
    box = {}

    def work():
        try:
            box["value"] = func(args)
        except BaseException as err:  # noqa: BLE001 — re-raised in the main thread
            box["error"] = err

    worker = threading.Thread(target=work, name="collapse-theory", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        _exit_interrupted()
    if "error" in box:
        raise box.pop("error")
    return box.get("value")


def _exit_interrupted():
    """End the process now: the worker thread may be inside a compiled block."""
    from .. import _io

    _io.discard_pending(final=True)
    _fail(("\n" if _common.progress_shown() else "") + "interrupted", status=130)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(130)


_OUT_OF_MEMORY = re.compile(r"Out of memory allocating \d+ bytes|RESOURCE_EXHAUSTED[^\n]*")


#: The command line's way out of a memory refusal (:data:`collapse_theory.engine.WAY_OUT`).
_WAY_OUT = ("record fewer generations (--record log or a list), run fewer trials, or raise "
            "--memory-limit if this machine has more")


def _describe(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if "memory_limit" in text:  # a memory refusal: in the options' words
        from ..engine import WAY_OUT

        text = (text.replace(WAY_OUT, _WAY_OUT).replace("(memory_limit)", "(--memory-limit)")
                .replace("memory_limit= (bytes)", "--memory-limit"))
    if isinstance(err, MemoryError):
        found = _OUT_OF_MEMORY.search(str(err))
        return (f"out of memory ({found.group(0) if found else text}); ask for smaller sample "
                f"sizes, fewer trials or generations, or record fewer generations")
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        return f"{text}: {err.filename!r}"
    return text


def _fail(message: str, status: int = 2) -> int:
    print(message, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
