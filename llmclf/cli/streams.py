"""Output streams that never fail on a character their encoding cannot hold.

A terminal or a redirect may be ASCII or Latin-1 (PYTHONIOENCODING, a POSIX
locale with UTF-8 mode off, a Windows code page). Printing an emoji there
raised UnicodeEncodeError in the middle of a run. Such characters are written
as JSON-style ``\\uXXXX`` escapes instead: readable on a terminal, lossless, and
inside a JSON string exactly what ``ensure_ascii`` writes, so ``--json`` output
stays valid JSON in any ASCII-compatible encoding.
"""

from __future__ import annotations

import codecs
import errno
import io
import json
import sys
from typing import NoReturn, TextIO

ESCAPE = "llmclf.jsonescape"


def _json_escape(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    # json.dumps with ensure_ascii writes \uXXXX for each character (a surrogate pair past U+FFFF);
    # an unencodable character is never one json.dumps would escape otherwise (quotes are ASCII)
    return json.dumps(exc.object[exc.start : exc.end])[1:-1], exc.end


codecs.register_error(ESCAPE, _json_escape)


def escape_unencodable(*streams: TextIO) -> None:
    """Switch each stream not encoding UTF-8 to escaping what its encoding cannot hold."""
    for stream in streams:
        encoding = getattr(stream, "encoding", None)
        reconfigure = getattr(stream, "reconfigure", None)
        if not encoding or reconfigure is None:
            continue
        try:
            if codecs.lookup(encoding).name == "utf-8":
                continue
        except LookupError:
            continue
        reconfigure(errors=ESCAPE)


class _Closed(io.TextIOBase):
    """Stands in for a standard stream the shell closed (``>&-``, ``<&-``), where Python leaves None:
    using it is one OSError naming the stream, not an AttributeError on None."""

    encoding = "utf-8"

    def __init__(self, name: str, reads: bool) -> None:
        self.name, self._reads = name, reads

    def _refuse(self, *_: object) -> NoReturn:
        raise OSError(errno.EBADF, f"{self.name} is closed")

    write = read = readline = _refuse

    def readable(self) -> bool:
        return self._reads

    def writable(self) -> bool:
        return not self._reads

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        self._refuse()

    def __iter__(self) -> NoReturn:
        self._refuse()


def stand_in_for_closed() -> None:
    """Give stdin and stdout, where None (closed by the shell), a stand-in that refuses in one line.

    stderr is left None: rich writes nothing there, and the exit status still tells."""
    for attr, name, reads in (("stdin", "standard input", True), ("stdout", "standard output", False)):
        if getattr(sys, attr) is None:
            setattr(sys, attr, _Closed(name, reads))
