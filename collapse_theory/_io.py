"""Files written for the user appear whole or not at all.

Each is written to a temporary file beside the target and then renamed onto it with
``os.replace``; on any failure (``KeyboardInterrupt`` included) the temporary file is deleted and
the target is left as it was.  :func:`discard_pending` deletes the temporary files of writes
still in flight, for a process that must exit at once (the CLI on Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Callable

#: Temporary files of the writes in flight (any thread); ``closed``: no new write may start.
_pending: set[str] = set()
_lock = threading.Lock()
_state = {"closed": False}


def atomic_write(path, write: Callable[[str], object]) -> str:
    """Call ``write(tmp)`` with a fresh file path beside ``path``, then move it onto ``path``.

    ``tmp`` ends with ``path``'s extension (matplotlib picks the format from it).  A symlink at
    ``path`` is written through.  Returns ``path``.
    """
    target = os.path.realpath(path)
    directory, base = os.path.split(target)
    with _lock:  # created and registered at once: discard_pending sees every temporary file
        if _state["closed"]:
            raise KeyboardInterrupt("the process is exiting")
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}.",
                                   suffix=".tmp" + os.path.splitext(base)[1])
        os.close(fd)
        _pending.add(tmp)
    try:
        write(tmp)
        os.chmod(tmp, _mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        with _lock:
            _pending.discard(tmp)
    return path


def discard_pending(*, final: bool = False) -> None:
    """Delete the temporary file of every write in flight (their targets are left as they
    were); for a process about to exit without unwinding the writing threads.  ``final``: no
    write may start afterwards (it raises ``KeyboardInterrupt``)."""
    with _lock:
        _state["closed"] = _state["closed"] or final
        for tmp in list(_pending):
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        _pending.clear()


def write_text(path, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write)


def _mode(target: str) -> int:
    """The target's permission bits, or those a new file gets under the umask."""
    with contextlib.suppress(FileNotFoundError):
        return stat.S_IMODE(os.stat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
