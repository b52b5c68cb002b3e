"""Compressed input files, known by their first bytes: gzip, bzip2 and xz are read through (``data.jsonl.gz``, as
pandas and ``datasets`` write them); a zip archive (an Excel workbook is one) or zstd gets a one-line error.

They were read as text, one "not UTF-8 text" error record a line, and ``data.jsonl.gz`` was taken for plain text,
since its format is named by the suffix before ``.gz``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path
from typing import IO

from .errors import InputError

__all__ = ["COMPRESSION_SUFFIXES", "decompressing", "format_suffix"]

COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz")
_OPENERS = {
    b"\x1f\x8b": ("gzip", lambda raw: gzip.GzipFile(fileobj=raw)),
    b"BZh": ("bzip2", bz2.BZ2File),
    b"\xfd7zXZ\x00": ("xz", lzma.LZMAFile),
}


def format_suffix(path: str | Path) -> str:
    """The suffix that names a file's format, lower-cased: ``.jsonl`` for ``data.JSONL.gz``."""
    path = Path(path)
    if path.suffix.lower() in COMPRESSION_SUFFIXES:
        path = path.with_suffix("")
    return path.suffix.lower()


class _Decompressed(io.RawIOBase):
    """A decompressing stream whose damaged or cut-short data is an InputError naming the file, not an OSError or
    EOFError from inside the reader."""

    def __init__(self, stream: IO[bytes], kind: str, where: str, raw: IO[bytes] | None) -> None:
        self._stream, self._kind, self._where, self._raw = stream, kind, where, raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        try:
            return self._stream.readinto(buffer)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise InputError(f"{self._where}: its {self._kind} data is damaged or cut short ({exc})") from None

    def close(self) -> None:
        self._stream.close()  # the decompressor leaves the file it was given open
        if self._raw is not None:
            self._raw.close()
        super().close()


def decompressing(raw: io.BufferedReader, where: str, owned: bool = True) -> io.BufferedReader:
    """``raw``, decompressed if its first bytes name gzip, bzip2 or xz; an InputError for a zip archive or zstd.
    Closing what comes back closes ``raw`` too if it is ``owned`` (a file opened for this; not standard input)."""
    head = raw.peek(8)[:8]
    for magic, (kind, opener) in _OPENERS.items():
        if head.startswith(magic):
            return io.BufferedReader(_Decompressed(opener(raw), kind, where, raw if owned else None))
    if head.startswith(b"PK\x03\x04"):
        raise InputError(
            f"{where} is a zip archive (an Excel workbook is one), not text: save it as CSV UTF-8 or JSON Lines"
        )
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        raise InputError(f"{where} is compressed with zstd: decompress it first (zstd -d), or use gzip")
    return raw
