"""Files written for the user appear whole or not at all.

Each is written to a temporary file beside the target and then renamed onto it with
``os.replace``; on any failure (``KeyboardInterrupt`` included) the temporary file is deleted and
the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable


def atomic_write(path, write: Callable[[str], object]) -> str:
    """Call ``write(tmp)`` with a fresh file path beside ``path``, then move it onto ``path``.

    ``tmp`` ends with ``path``'s extension (matplotlib picks the format from it).  A symlink at
    ``path`` is written through.  Returns ``path``.
    """
    target = os.path.realpath(path)
    directory, base = os.path.split(target)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}.",
                               suffix=".tmp" + os.path.splitext(base)[1])
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _mode(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


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
