"""Classifying a Parquet file row group by row group, in bounded memory, into Parquet or JSON Lines.

The output has every input column and then the engines' columns (``prediction``,
``confidence``, ``top_k``, ``model_id``, ``error``; see llmclf.batch). Needs pyarrow
(``pip install 'llmclf[parquet]'``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .atomic import atomic_writer
from .batch import to_arrow
from .datafiles import is_parquet_folder
from .errors import InputError

__all__ = [
    "classify_parquet",
    "classify_rows_to_parquet",
    "count_rows",
    "is_our_output",
    "is_parquet",
    "iter_parquet_rows",
    "jsonable",
]


ENGINE_COLUMNS = ("prediction", "confidence", "top_k", "model_id", "error")


def is_parquet(path: str | os.PathLike[str]) -> bool:
    """A ``.parquet``/``.pq`` name, or a folder of Parquet files (Spark's output): one table either way."""
    return Path(path).suffix.lower() in (".parquet", ".pq") or is_parquet_folder(path)


def count_rows(path: str | os.PathLike[str]) -> int:
    """The rows of a Parquet file or folder, from its metadata (nothing is read)."""
    pa, _ = _pyarrow()
    source, _names = _open(Path(path))
    try:
        return source.count_rows()
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise InputError(f"{path}: cannot read ({exc})"[:500]) from None


def is_our_output(path: Path) -> bool:
    """Whether ``path`` is Parquet that classify wrote (the engines' columns last), which a new run may replace."""
    pa, pq = _pyarrow()
    try:
        names = pq.read_schema(path).names
    except (OSError, ValueError, pa.ArrowException):  # not Parquet
        return False
    return names[-len(ENGINE_COLUMNS) :] == list(ENGINE_COLUMNS)


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("Parquet needs pyarrow: pip install 'llmclf[parquet]'") from None
    return pa, pq


class _Folder:
    """A folder of Parquet files as one table, read file by file in name order (``part-00000``, ``part-00001``...);
    files whose names start with ``_`` or ``.`` (``_SUCCESS``, ``.part-00000.crc``) are skipped, as Spark's are."""

    def __init__(self, path: Path) -> None:
        import pyarrow.dataset as pads

        self._dataset = pads.dataset(str(path), format="parquet", partitioning="hive")
        self.schema_arrow = self._dataset.schema

    def iter_batches(self, batch_size: int) -> Iterator[Any]:
        for fragment in sorted(self._dataset.get_fragments(), key=lambda f: f.path):
            yield from fragment.to_batches(schema=self.schema_arrow, batch_size=batch_size, use_threads=False)

    def count_rows(self) -> int:
        return self._dataset.count_rows()


class _File:
    def __init__(self, path: Path) -> None:
        _, pq = _pyarrow()
        self._file = pq.ParquetFile(path)
        self.schema_arrow = self._file.schema_arrow
        self.iter_batches = self._file.iter_batches

    def count_rows(self) -> int:
        return self._file.metadata.num_rows


def _open(path: Path) -> tuple[Any, list[str]]:
    pa, _ = _pyarrow()
    if not path.exists():
        raise InputError(f"file not found: {path}")
    try:
        source = _Folder(path) if path.is_dir() else _File(path)
        return source, source.schema_arrow.names
    except (OSError, pa.ArrowException, ValueError) as exc:  # a damaged column name is UnicodeDecodeError
        raise InputError(f"{path}: not a readable Parquet file ({exc})"[:500]) from None


def iter_parquet_rows(path: str | os.PathLike[str], batch_size: int = 4096) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number from 1, record) for each row, a row group at a time: training data and unlabelled texts."""
    pa, _ = _pyarrow()
    source, _names = _open(Path(path))
    n = 0
    try:
        for batch in source.iter_batches(batch_size=batch_size):
            for record in _records(pa.Table.from_batches([batch])):
                n += 1
                yield n, record
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise InputError(f"{path}: cannot read ({exc})"[:500]) from None


def _batches(path: Path, text_column: str, batch_size: int, id_column: str | None = None) -> Iterator[Any]:
    pa, _ = _pyarrow()
    source, names = _open(path)
    if text_column not in names:
        raise InputError(
            f"{path}: no column {text_column!r} (columns: {', '.join(names)}); pick one with --text-column"
        )
    if id_column is not None and id_column not in names:  # every column is carried; a wrong name was ignored
        raise InputError(f"{path}: no column {id_column!r} for --id-column (columns: {', '.join(names)})")
    clash = [c for c in ENGINE_COLUMNS if c in names]
    if clash:
        raise InputError(f"{path}: the input already has column(s) {', '.join(clash)}")
    try:
        yield from source.iter_batches(batch_size=batch_size)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise InputError(f"{path}: cannot read ({exc})"[:500]) from None


def _values(column: Any, name: str, errors: str) -> list[Any]:
    """A column's Python values; strings that are not UTF-8 (pyarrow does not check on read) decoded with ``errors``."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:
        pa, _ = _pyarrow()
        try:
            raw = column.cast(pa.large_binary()).to_pylist()
        except pa.ArrowException:  # nested strings: no row-by-row way round it
            raise InputError(f"column {name!r} holds text that is not UTF-8") from None
        return [None if b is None else b.decode("utf-8", errors) for b in raw]


def _records(table: Any) -> list[dict[str, Any]]:
    try:
        return table.to_pylist()
    except UnicodeDecodeError:
        columns = {name: _values(table.column(name), name, "replace") for name in table.column_names}
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def jsonable(value: Any) -> Any:
    """A Parquet cell as JSON can hold it: NaN and infinities as null (pandas writes a missing float as NaN),
    dates and times in ISO 8601, durations in seconds, decimals as exact strings, bytes in base64."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)  # Decimal, and anything else pyarrow hands back


def classify_parquet(
    clf,
    path: Path,
    output: Path | None,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    top_k: int = 5,
    threshold: float | None = None,
    batch_size: int = 1024,
    emit: Callable[[list[dict[str, Any]]], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Classify ``path``; write Parquet to ``output`` (atomically) or hand JSON-ready records to ``emit``.

    Every input column is carried into the output, so ``id_column`` is only checked to exist.
    Returns (rows, rows with an error).
    """
    pa, pq = _pyarrow()
    rows = bad = 0
    with (
        atomic_writer(output) if output is not None else contextlib.nullcontext() as fh,
        contextlib.closing(_LazyWriter(fh)) as writer,
    ):
        for batch in _batches(path, text_column, batch_size, id_column):
            # text that is not UTF-8 becomes a row error (see batch.row_error), never a failed file
            texts = _values(batch.column(text_column), text_column, "surrogateescape")
            columns = clf.predict_batch(texts, top_k=top_k, threshold=threshold)
            table = _with_predictions(pa.Table.from_batches([batch]), columns, clf.model_id)
            rows += len(texts)
            bad += sum(e is not None for e in columns["error"])
            if fh is not None:
                writer.write(table)
            elif emit is not None:
                emit([jsonable(record) for record in _records(table)])
            if progress is not None:
                progress(len(texts))
        if fh is not None and writer.writer is None:  # no row at all: still a valid, empty file, with every column
            empty = pa.table({text_column: pa.array([], type=pa.string())})
            columns = clf.predict_batch([], top_k=top_k, threshold=threshold)
            pq.write_table(_with_predictions(empty, columns, clf.model_id), fh)
    return rows, bad


def _with_predictions(table: Any, columns: dict[str, Any], model_id: str) -> Any:
    """``table`` (the input's columns) with the engines' columns after them."""
    added = to_arrow(columns, model_id)
    for name in added.column_names:
        table = table.append_column(name, added.column(name))
    return table


def _id_text(value: Any) -> str | None:
    """An id column's cell as text: CSV's are strings already; a JSON number or list is written as JSON."""
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def classify_rows_to_parquet(
    clf,
    rows: Iterable[tuple[str | None, str | None, Any]],
    output: Path,
    *,
    with_id: bool = False,
    top_k: int = 5,
    threshold: float | None = None,
    batch_size: int = 1024,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Classify ``(text, why it could not be read, id)`` rows (text files, CSV, JSONL, stdin) into Parquet at
    ``output``, atomically: ``text`` (``id`` as text ``with_id``) and then the engines' columns; a row that could
    not be read keeps its place, with a null text and its ``error``. Returns (rows, rows with an error); no
    row at all is an InputError, and ``output`` is left as it was."""
    pa, _ = _pyarrow()
    rows_done = bad = 0
    with atomic_writer(output) as fh, contextlib.closing(_LazyWriter(fh)) as writer:
        it = iter(rows)
        while batch := list(itertools.islice(it, batch_size)):
            texts = [text if why is None else None for text, why, _ in batch]
            columns = clf.predict_batch(texts, top_k=top_k, threshold=threshold)
            for i, (_, why, _) in enumerate(batch):
                if why is not None:  # the reader's reason, not "text is null"
                    columns["error"][i] = why
            table = pa.table({"text": pa.array(texts, type=pa.string())})
            if with_id:
                table = table.append_column("id", pa.array([_id_text(r[2]) for r in batch], type=pa.string()))
            table = _with_predictions(table, columns, clf.model_id)
            writer.write(table)
            rows_done += len(batch)
            bad += sum(e is not None for e in columns["error"])
            if progress is not None:
                progress(len(batch))
        if writer.writer is None:  # raised inside: whatever was at ``output`` stays
            raise InputError("no texts to classify: the input held no non-blank line")
    return rows_done, bad


class _LazyWriter:
    """A ParquetWriter made on the first table (its schema is the table's), closed before the file under it.

    Closed on the way out whatever happens: on Ctrl-C the writer used to be left to its ``__del__``, which wrote to
    the already closed file and printed "Exception ignored ... ValueError: write to closed file" with a traceback.
    """

    def __init__(self, fh: Any) -> None:
        self.fh, self.writer = fh, None

    def write(self, table: Any) -> None:
        if self.writer is None:
            _, pq = _pyarrow()
            self.writer = pq.ParquetWriter(self.fh, table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
