"""Reading the user's data files: labelled data and texts to classify (class and tag files: :mod:`.classfiles`).

Formats are picked by extension: ``.jsonl``/``.ndjson`` (one object a line),
``.csv`` (a header row), ``.parquet`` (or a folder of parts) and anything else
as plain text, one item a line; gzip, bzip2 and xz files are read through (see
:mod:`llmclf.compressed`). Every problem becomes an :class:`InputError` that
names the file and, where it helps, the line.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .blank import is_blank
from .compressed import decompressing, format_suffix
from .errors import InputError
from .jsonlines import loads as strict_json

__all__ = [
    "check_readable",
    "is_parquet_folder",
    "iter_labelled",
    "iter_text_rows",
    "iter_texts",
    "not_utf8",
    "part_files",
    "shown",
]

TEXT_KEYS = ("text", "sentence", "content", "input")
LABEL_KEYS = ("label", "class", "category", "output")


CSV_FIELD_LIMIT = 2**31 - 1  # characters; csv's own limit is a C long, 32 bits on Windows


def check_readable(path: str | Path) -> Path:
    """``path`` if it can be read as a stream (a file, a FIFO or ``<(...)``) or is a folder that holds one table in
    parts (:func:`part_files`, :func:`is_parquet_folder`); a one-line error otherwise."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if path.is_dir() and not (is_parquet_folder(path) or part_files(path)):
        raise InputError(f"{path} is a folder, not a file{_folder_kinds(path)}")
    if format_suffix(path) in WORKBOOK_SUFFIXES:  # an .xlsx is a zip; an .xls read as text gave a page of bad bytes
        raise InputError(f"{path} is a spreadsheet workbook: save it as CSV UTF-8 (in Excel: Save As, 'CSV UTF-8')")
    return path


PART_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".numbers")


def _folder_kinds(path: Path) -> str:
    """Why a folder is not one table: what it holds, beside what a table in parts would hold."""
    try:
        files = [p for p in path.iterdir() if not p.name.startswith(("_", ".")) and p.is_file()]
    except OSError:
        return ""
    if not files:
        return " (and it holds no data files)"
    kinds = ", ".join(sorted({format_suffix(p) or p.name for p in files})[:5])
    return (
        f" (a folder is read as one table when its files are all .csv, .tsv, .json(l) or .parquet alike; here: {kinds})"
    )


def part_files(path: str | Path) -> list[Path]:
    """The files of a folder that holds one table in parts, as ``df.write.csv``/``.json`` in Spark and Dask's
    ``to_csv`` write it (``part-00000-....csv``), in name order; names that start with ``_`` or ``.`` (``_SUCCESS``,
    ``.part-00000.csv.crc``) are not data. Empty unless every file is CSV, TSV or JSON (Lines) alike."""
    path = Path(path)
    if not path.is_dir():
        return []
    try:
        files = sorted(p for p in path.iterdir() if not p.name.startswith(("_", ".")) and p.is_file())
    except OSError:
        return []
    kinds = {format_suffix(p) for p in files}
    return files if len(kinds) == 1 and kinds <= set(PART_SUFFIXES) else []


def is_parquet_folder(path: str | Path) -> bool:
    """A folder holding ``.parquet`` files, as Spark, Ray, Dask and ``pandas.to_parquet(partition_cols=...)`` write
    one table (part files, partition folders, ``_SUCCESS``): read as one Parquet input."""
    path = Path(path)
    if not path.is_dir():
        return False
    try:
        return any(p.suffix.lower() in (".parquet", ".pq") for p in itertools.islice(path.rglob("*"), 10_000))
    except OSError:
        return False


def _bom_encoding(head: bytes) -> str:
    """The encoding a file's byte-order mark names: UTF-16 is what Excel's "Unicode Text", Notepad's "Unicode" and
    Windows PowerShell's ``>`` write; read as UTF-8, its lines became texts like "\\x00w\\x00o\\x00o\\x00f"."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark, which would glue itself to the first header
    return "utf-8-sig"


def _bytes_as_surrogates(exc: UnicodeError) -> tuple[str, int]:
    """surrogateescape for any codec: UTF-16 can fail on a byte below 0x80, which surrogateescape refuses."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error("llmclf.surrogates", _bytes_as_surrogates)


def _open_text(path: str | Path, errors: str = "strict") -> io.TextIOWrapper:
    """A file (or FIFO) as text in the encoding its byte-order mark names, UTF-8 without one."""
    path = check_readable(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 (returned open, inside its text wrapper)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return _as_text(decompressing(raw, str(path)), errors)
    except OSError as exc:
        raw.close()
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except InputError:
        raw.close()
        raise


def _as_text(raw: io.BufferedReader, errors: str = "strict") -> io.TextIOWrapper:
    """A byte stream as text in the encoding its byte-order mark names (looked at, not consumed), UTF-8 without."""
    return io.TextIOWrapper(raw, encoding=_bom_encoding(raw.peek(4)[:4]), errors=errors, newline="")


def _kind(path: str | Path) -> str:
    if is_parquet_folder(path):
        return "parquet"
    suffix = format_suffix(path)
    kinds = {
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "json",  # a JSON array of objects, or JSON Lines under another name (see _json_kind)
        ".csv": "csv",
        ".tsv": "tsv",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    return kinds.get(suffix, "txt")


MAX_JSON_ARRAY_BYTES = 256 * 1024**2  # an array is parsed whole; JSON Lines stream, whatever their size


def _json_kind(path: str | Path) -> str:
    """A ``.json`` file holding an array (``df.to_json(orient="records")``) is "json-array"; one whose first
    character opens an object is JSON Lines. A .json file was read as plain text, one "text" a line."""
    with _open_lenient(path) as fh:
        head = fh.read(4096).lstrip("\ufeff \t\r\n")
    return "json-array" if head.startswith("[") else "jsonl"


def _json_array(path: str | Path, read: Iterable[str | None], fh: io.TextIOWrapper | None = None) -> list[Any]:
    """The items of a JSON array file, or of ``fh`` (standard input); a key to ``read`` twice in one object is
    refused, as in JSON Lines."""
    with fh if fh is not None else _open_text(path) as fh:
        try:
            text = fh.read(MAX_JSON_ARRAY_BYTES + 1)
        except UnicodeDecodeError as exc:
            raise InputError(_undecodable_file(path, exc.start, fh.encoding)) from None
    if len(text) > MAX_JSON_ARRAY_BYTES:
        raise InputError(f"{path}: a JSON array over {MAX_JSON_ARRAY_BYTES // 1024**2} MB is refused; write JSON Lines")
    items = _parse_json(text.removeprefix("\ufeff"), str(path), object_pairs_hook=_once(str(path), read))
    if not isinstance(items, list):
        raise InputError(f"{path}: expected a JSON array of objects, or JSON Lines")
    return items


def _parquet_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from .parquet_io import iter_parquet_rows

    for n, record in iter_parquet_rows(check_readable(path)):
        yield n, {_column(k): v for k, v in record.items()}


def _stdin_buffer() -> io.BufferedReader | None:
    """Standard input's bytes, in a buffer that can be looked at before it is read; None when it has none.

    On a descriptor, a buffer of its own: `classify` reads stdin on a thread (cli.live_batches), and a read that
    waits holds its buffer's lock. Had that been sys.stdin's, Ctrl-C while it waited for a line ended in "Fatal
    Python error: could not acquire lock for <stdin> at interpreter shutdown" and an abort."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is not None and not hasattr(raw, "peek"):  # a BytesIO (tests, embedding hosts)
        return io.BufferedReader(raw)
    try:
        fd = raw.fileno() if raw is not None else None
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return raw
    return io.BufferedReader(io.FileIO(fd, "rb", closefd=False)) if fd is not None else raw


def _stdin_text() -> tuple[io.TextIOWrapper, str]:
    """Standard input as text, and its kind: JSONL when its first character is ``{``, a JSON array when it is
    ``[`` (it was read as CSV: "need at least two classes, got 0"), else CSV (``--data -``)."""
    raw = _stdin_buffer()
    if raw is None:
        raise InputError("standard input cannot be read here")
    raw = decompressing(raw, "standard input", owned=False)
    fh = _as_text(raw)
    return fh, _sniffed_kind(raw, fh.encoding)


def _pipe_text(path: str | Path) -> tuple[io.TextIOWrapper, str]:
    """A FIFO or ``<(jq ...)`` (``/dev/fd/63``: no name to go by) as text, and its kind, read as stdin is."""
    fh = _open_text(path)
    return fh, _sniffed_kind(fh.buffer, fh.encoding)


def _sniffed_kind(raw: io.BufferedReader, encoding: str) -> str:
    """JSONL when the first character is ``{``, a JSON array when it is ``[``, else CSV; looked at, not read."""
    start = raw.peek(64)[:64].decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")
    return "jsonl" if start.startswith("{") else "json-array" if start.startswith("[") else "csv"


def _is_pipe(path: str | Path) -> bool:
    path = Path(path)
    return path.exists() and not path.is_file() and not path.is_dir()


def _records(
    path: str | Path, read: tuple[str, ...] = (*TEXT_KEYS, *LABEL_KEYS)
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank row of a JSONL or CSV file, or item of a JSON array; ``-`` is
    standard input. A CSV header or JSON object that names one of the columns to ``read`` twice is refused."""
    if parts := part_files(path):
        for part in parts:
            yield from _records(part, read)
        return
    if str(path) == "-":
        fh, kind = _stdin_text()
        path = "standard input"
    elif (kind := _kind(check_readable(path))) == "txt" and _is_pipe(path):
        fh, kind = _pipe_text(path)
    else:
        if kind == "txt":
            raise InputError(f"{path}: expected a .csv, .jsonl, .json or .parquet file with text and label columns")
        if kind == "parquet":
            yield from _parquet_rows(path)
            return
        kind = _json_kind(path) if kind == "json" else kind
        fh = None if kind == "json-array" else _open_text(path)  # _json_array opens the file itself
    if kind == "json-array":
        for n, item in enumerate(_json_array(path, read, fh), 1):
            if not isinstance(item, dict):
                raise InputError(f"{path}: item {n} of the array is not a JSON object")
            yield n, {_column(k): v for k, v in item.items()}
        return
    yield from _rows(fh, kind, path, read)


def _rows(
    fh: io.TextIOBase, kind: str, path: str | Path, read: Iterable[str | None]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank row of JSON Lines or CSV/TSV text in ``fh``, which is closed."""
    try:
        with fh:
            if kind == "jsonl":
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    record = _json_object(line, f"{path}:{n}", read)
                    yield n, {_column(k): v for k, v in record.items()}
            else:
                reader = _csv_reader(fh, kind, path, read)
                for record in reader:
                    yield reader.line_num, {_column(k): v for k, v in record.items() if k is not None}
    except UnicodeDecodeError as exc:
        raise InputError(_undecodable_file(path, exc.start, fh.encoding)) from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from None


def codec_name(encoding: str) -> str:
    """How a message names the encoding a file was read in: "UTF-8", "UTF-16" or "UTF-32"."""
    return encoding.upper().removesuffix("-SIG")


def _undecodable_file(path: str | Path, offset: int, encoding: str = "utf-8") -> str:
    hint = " (in Excel: Save As, 'CSV UTF-8')" if _kind(path) in ("csv", "tsv") else ""
    return f"{path} is not {codec_name(encoding)} text (bad byte at offset {offset}); save it as UTF-8{hint}"


def _csv_reader(fh: Any, kind: str, path: str | Path, read: Iterable[str | None] = ()) -> csv.DictReader:
    """Rows of a CSV or TSV file. A ``.csv`` whose header has no comma but a semicolon (or a tab) is read with
    that: Excel writes semicolons where the comma is the decimal mark; a first line ``sep=;`` (Excel's way of
    naming the separator, which it reads and some exports write) names it instead. A header naming a column to
    ``read`` twice (in any case) is refused: the row kept only the last one's value, so ``label,label`` trained on
    the second."""
    # csv's default of 131,072 characters a field made a CSV holding one long document "malformed", and reading
    # stopped there; a JSON Lines file takes a line of any length, and a long text is cut to what is used later
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    if kind == "tsv":
        reader = csv.DictReader(fh, delimiter="\t")
    else:
        header = fh.readline()
        if _is_sep_line(header):
            delimiter, header = header.rstrip("\r\n")[4], fh.readline()
        else:
            delimiter = next((d for d in (",", ";", "\t") if d in header), ",")
        reader = csv.DictReader(itertools.chain([header], fh), delimiter=delimiter)
    if twice := _read_twice(reader.fieldnames or [], read):
        raise InputError(f"{path}: the header has two {twice!r} columns and which to read is unclear; rename one")
    return reader


def _read_twice(keys: Iterable[str], read: Iterable[str | None]) -> str | None:
    """The first of the columns to ``read`` that ``keys`` (a CSV header, a JSON object's keys) name twice, in any
    case: the readers keep only the last one's value."""
    names = [_column(key) for key in keys]
    wanted = {_column(name) for name in read if name}
    return next((name for name in names if name in wanted and names.count(name) > 1), None)


def _column(name: str) -> str:
    """Headers match whatever their case and spacing: ``Text``, `` LABEL ``."""
    return str(name).strip().lower()


def _pick(
    record: dict[str, Any], keys: tuple[str, ...], path: str | Path, n: int, what: str, named: str | None = None
) -> str:
    """The text of a row's ``what`` column: the first of ``keys`` it has, or ``named`` (a --text-column)."""
    keys = (_column(named),) if named else keys
    for key in keys:
        if key in record and record[key] is not None:
            value = record[key]
            if isinstance(value, dict | list | bytes):
                raise InputError(f"{path}:{n}: the {key} column holds a {type(value).__name__}, not text")
            if isinstance(value, float) and not math.isfinite(value):  # pandas writes a missing value as NaN
                raise InputError(f"{path}:{n}: {what} is missing ({value} in the {key} column)")
            if what == "label" and isinstance(value, float) and value.is_integer():
                value = int(value)  # pandas makes a column of whole numbers with a gap floats: 2.0 is label 2
            return _scalar_text(value)
    if null := next((key for key in keys if key in record), None):
        raise InputError(f"{path}:{n}: {what} is empty (null in the {null} column)")
    found = ", ".join(repr(k) for k in record) or "none"
    if named:
        raise InputError(f"{path}:{n}: no column {named!r} for --{what}-column (found: {found})")
    hint = f"; name it with --{what}-column" if keys in (TEXT_KEYS, LABEL_KEYS) else ""
    raise InputError(f"{path}:{n}: no {what} column (expected one of: {', '.join(keys)}; found: {found}){hint}")


def _keys(column: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """The columns a row is read from: the one named (any case), else the defaults."""
    return (_column(column),) if column else default


def shown(path: str | Path) -> str:
    """How a file argument is named in messages: ``-`` is standard input."""
    return "standard input" if str(path) == "-" else str(path)


def iter_labelled(
    path: str | Path, text_column: str | None = None, label_column: str | None = None
) -> Iterator[tuple[str, str]]:
    """(text, label) pairs from a CSV, JSONL, JSON array or Parquet file (``-``: standard input); an empty field is
    an error. ``text_column`` and ``label_column`` name the columns (any case); by default the first of text,
    sentence, content, input and of label, class, category, output."""
    if text_column and label_column and _column(text_column) == _column(label_column):
        raise InputError(f"--text-column and --label-column both name {text_column!r}: a text cannot be its own label")
    records = _records(path, (*_keys(text_column, TEXT_KEYS), *_keys(label_column, LABEL_KEYS)))
    path = shown(path)
    for n, record in records:
        text = _pick(record, TEXT_KEYS, path, n, "text", text_column).strip()
        label = _pick(record, LABEL_KEYS, path, n, "label", label_column).strip()
        if problem := text_problem(text):
            raise InputError(f"{path}:{n}: {problem}")
        if is_blank(label):
            raise InputError(f"{path}:{n}: label is empty")
        yield text, label


def iter_texts(path: str | Path, text_column: str | None = None) -> Iterator[str]:
    """Texts from a CSV/JSONL file with a text column, or from a plain file, one a line.

    Blank lines of a plain file are skipped; any row that cannot be read is an
    InputError (see :func:`iter_text_rows` to go on past such rows).
    """
    for text, error, _ in iter_text_rows(path, text_column):
        if error is not None:
            raise InputError(error)
        yield text


Row = tuple[str | None, str | None, Any]  # (text, None, id) or (None, why the row could not be read, id)


def iter_text_rows(path: str | Path, text_column: str | None = None, id_column: str | None = None) -> Iterator[Row]:
    """``(text, None, id)`` for each text, or ``(None, why, id)`` for a row that cannot be read, so a caller can go on.

    ``text_column`` picks the text column of a CSV/JSONL file (any case); by default the first of
    text, sentence, content, input. ``id_column`` carries that column's value along (None without it).
    A missing or unreadable file is still an InputError at once.
    """
    keys = _keys(text_column, TEXT_KEYS)
    if parts := part_files(path):
        for part in parts:
            yield from iter_text_rows(part, text_column, id_column)
        return
    if str(path) == "-":  # a table, read by its columns, when one is named; else a text a line
        yield from _table_rows("-", keys, id_column) if text_column or id_column else stdin_rows()
        return
    kind = _kind(path)
    if kind == "txt" and (text_column or id_column) and _is_pipe(path):  # <(jq ...): a table, as stdin is
        yield from _table_rows(path, keys, id_column)
        return
    if kind == "txt":
        if id_column:
            raise InputError(f"{path}: --id-column needs a CSV, JSONL or Parquet file, not plain text")
        with _open_lenient(path) as fh:
            yield from _line_rows(fh, f"{path}:", fh.encoding)
        return
    if kind == "parquet":
        for n, record in _parquet_rows(path):
            yield _row_text(path, n, record, keys, id_column)
        return
    kind = _json_kind(path) if kind == "json" else kind
    if kind == "json-array":
        for n, item in enumerate(_json_array(path, (*keys, id_column)), 1):
            if isinstance(item, str) and not (text_column or id_column):  # ["woof", "meow"]: a text an item
                problem = text_problem(item)
                yield (None, f"{path}: item {n}: {problem}", None) if problem else (item, None, None)
                continue
            if not isinstance(item, dict):
                want = "a JSON object" if text_column or id_column else "a string or a JSON object"
                yield None, f"{path}: item {n} of the array is not {want}", None
                continue
            yield _row_text(path, n, {_column(k): v for k, v in item.items()}, keys, id_column)
        return
    with _open_lenient(path) as fh:
        if kind == "jsonl":
            rows = ((n, line) for n, line in enumerate(fh, 1) if line.strip())
            for n, line in rows:
                yield _jsonl_text(path, n, line, keys, id_column, fh.encoding)
            return
        try:
            reader = _csv_reader(fh, kind, path, (*keys, id_column))
            for record in reader:
                row = {_column(k): v for k, v in record.items() if k is not None}
                yield _row_text(path, reader.line_num, row, keys, id_column, fh.encoding)
        except csv.Error as exc:
            yield None, f"{path}: malformed CSV ({exc}); reading stopped there", None


def check_columns(path: str | Path, text_column: str | None = None, id_column: str | None = None) -> None:
    """Refuse, before anything is read, a CSV/TSV file whose header lacks the text or ``--id-column`` column, and
    column flags on a plain text file: each row would otherwise become an error record of its own. JSONL rows
    may differ, so they are checked row by row; a FIFO can be read once, so it is not peeked at."""
    if parts := part_files(path):
        for part in parts:
            check_columns(part, text_column, id_column)
        return
    kind = _kind(path)
    if kind == "txt" and (text_column or id_column) and not _is_pipe(path):
        flag = "--text-column" if text_column else "--id-column"
        raise InputError(f"{path}: {flag} needs a CSV, JSONL or Parquet file, not plain text")
    if kind not in ("csv", "tsv") or not Path(path).is_file():
        return
    keys = _keys(text_column, TEXT_KEYS)
    with _open_lenient(path) as fh:
        try:
            header = _csv_reader(fh, kind, path, (*keys, id_column)).fieldnames
        except csv.Error:
            return  # the read says so, row by row
    if not header:
        return
    names = [_column(f) for f in header]
    found = ", ".join(h.strip() for h in header)
    if not any(key in names for key in keys):
        wanted = f"column {text_column!r}" if text_column else f"text column (expected one of: {', '.join(keys)};"
        tail = f"(columns: {found})" if text_column else f"columns: {found})"
        raise InputError(f"{path}: no {wanted} {tail}; pick one with --text-column")
    if id_column and _column(id_column) not in names:
        raise InputError(f"{path}: no column {id_column!r} for --id-column (columns: {found})")


def stdin_rows() -> Iterator[Row]:
    """Lines of stdin as texts, decoded here: whatever the locale makes of stdin, a bad byte spoils one line, not
    the run (``-`` as a text file: ``classify -``, ``train --unlabeled -``). A byte-order mark picks UTF-16 or
    UTF-32 (``Get-Content -Encoding Unicode f.txt | llmclf classify -``), as it does for a file."""
    stream = _stdin_buffer()
    if stream is None:
        yield from _line_rows(sys.stdin, "standard input line ", "utf-8")
        return
    stream = decompressing(stream, "standard input", owned=False)
    encoding = _bom_encoding(stream.peek(4)[:4])
    if encoding == "utf-8-sig":  # line by line as bytes: a line is handed on as soon as it has arrived
        yield from _line_rows((b.decode("utf-8", "surrogateescape") for b in stream), "standard input line ", encoding)
        return
    text = _as_text(stream, errors="llmclf.surrogates")
    try:
        yield from _line_rows(text, "standard input line ", encoding)
    finally:
        text.detach()  # a wrapper that is let go closes what it wraps: sys.stdin stays open


def _table_rows(path: str | Path, keys: tuple[str, ...], id_column: str | None) -> Iterator[Row]:
    """Rows of CSV, JSON Lines or a JSON array on stdin (``cat tickets.csv | llmclf classify --text-column body``)
    or a pipe, as :func:`iter_text_rows` reads them from a file; a row as soon as it has arrived."""
    for n, record in _records(path, (*keys, *((id_column,) if id_column else ()))):
        yield _row_text(shown(path), n, record, keys, id_column)


def _line_rows(lines: Iterable[str], where: str, encoding: str) -> Iterator[Row]:
    """A text per non-blank line (``where`` + the line number names a bad one); a first byte-order mark dropped."""
    for n, line in enumerate(lines, 1):
        if n == 1:
            line = line.removeprefix("\ufeff")
        if line.strip():
            text = line.rstrip("\r\n")
            problem = text_problem(text, encoding)
            yield (None, f"{where}{n}: {problem}", None) if problem else (text, None, None)


def _parse_json(text: str, where: str, **kwargs: Any) -> Any:
    """Strict JSON (no NaN or Infinity), or one InputError that says ``where``."""
    try:
        return strict_json(text, **kwargs)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deeply") from None


def _once(where: str, read: Iterable[str | None]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A JSON object hook that refuses a key to ``read`` given twice, in any case: JSON keeps the last one."""
    read = tuple(read)

    def once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if twice := _read_twice((key for key, _ in pairs), read):
            raise InputError(f"{where}: the key {twice!r} is given twice and which to read is unclear")
        return dict(pairs)

    return once


def _json_object(line: str, where: str, read: Iterable[str | None] = ()) -> dict[str, Any]:
    """One JSON Lines record: a JSON object, or one InputError that says ``where``. A key to ``read`` given twice
    (in any case) is refused, as a CSV header is: JSON keeps the last one without a word."""
    record = _parse_json(line, where, object_pairs_hook=_once(where, read))
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object")
    return record


def _jsonl_text(
    path: str | Path, n: int, line: str, keys: tuple[str, ...], id_column: str | None, encoding: str
) -> Row:
    if not_utf8(line):
        return None, f"{path}:{n}: not {codec_name(encoding)} text", None
    try:
        record = _json_object(line, f"{path}:{n}", (*keys, id_column))
    except InputError as exc:
        return None, str(exc), None
    return _row_text(path, n, {_column(k): v for k, v in record.items()}, keys, id_column, encoding)


def _row_text(
    path: str | Path,
    n: int,
    record: dict[str, Any],
    keys: tuple[str, ...],
    id_column: str | None,
    encoding: str = "utf-8",
) -> Row:
    row_id = record.get(_column(id_column)) if id_column else None
    if id_column and _column(id_column) not in record:
        return None, f"{path}:{n}: no {id_column!r} column (found: {', '.join(map(repr, record)) or 'none'})", None
    try:
        text = _pick(record, keys, path, n, "text")
    except InputError as exc:
        return None, str(exc), row_id
    if problem := text_problem(text, encoding):
        return None, f"{path}:{n}: {problem}", row_id
    return text, None, row_id


def text_problem(text: str, encoding: str = "utf-8") -> str | None:
    """Why a text read (in ``encoding``) from a file or stdin cannot be classified, or None: bytes that did not
    decode, a NUL (UTF-16 without its byte-order mark reads as "w\\x00o\\x00o\\x00f\\x00"), or nothing but blanks."""
    if not_utf8(text):
        return f"not {codec_name(encoding)} text"
    if "\x00" in text:
        return "holds NUL characters, which text does not (UTF-16 without a byte-order mark?)"
    if is_blank(text):
        return "text is empty"
    return None


def not_utf8(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (decoded with surrogateescape, as stdin and argv are)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _open_lenient(path: str | Path) -> io.TextIOWrapper:
    """Open for reading with undecodable bytes kept as surrogates, so one bad line cannot end the file."""
    return _open_text(path, errors="llmclf.surrogates")


def _is_sep_line(line: str) -> bool:
    """Excel's ``sep=;`` first line, which names a CSV file's separator."""
    line = line.rstrip("\r\n")
    return len(line) == 5 and line.lower().startswith("sep=")


def _scalar_text(value: object) -> str:
    """A JSON scalar as its text: ``true`` and ``null``, not Python's ``True`` and ``None``."""
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)
