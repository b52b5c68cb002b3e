"""Reading the user's files: class descriptions, labelled data, texts to classify.

Formats are picked by extension: ``.jsonl``/``.ndjson`` (one object a line),
``.csv`` (a header row), ``.json``/``.yaml``/``.yml`` for class files and
anything else as plain text, one item a line. Every problem becomes an
:class:`InputError` that names the file and, where it helps, the line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = ["iter_labelled", "iter_texts", "read_class_file"]

TEXT_KEYS = ("text", "sentence", "content", "input")
LABEL_KEYS = ("label", "class", "category", "output")


def _open(path: str | Path):
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    try:
        return open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _kind(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}.get(suffix, "txt")


def _records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank row of a JSONL or CSV file."""
    kind = _kind(path)
    if kind == "txt":
        raise InputError(f"{path}: expected a .csv or .jsonl file with text and label columns")
    fh = _open(path)
    try:
        with fh:
            if kind == "jsonl":
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
                    if not isinstance(record, dict):
                        raise InputError(f"{path}:{n}: expected a JSON object")
                    yield n, record
            else:
                reader = csv.DictReader(fh, delimiter="\t" if kind == "tsv" else ",")
                for record in reader:
                    yield reader.line_num, record
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (bad byte at offset {exc.start})") from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from None


def _pick(record: dict[str, Any], keys: tuple[str, ...], path: str | Path, n: int, what: str) -> str:
    for key in keys:
        if key in record and record[key] is not None:
            return str(record[key])
    raise InputError(f"{path}:{n}: no {what} column (expected one of: {', '.join(keys)})")


def iter_labelled(path: str | Path) -> Iterator[tuple[str, str]]:
    """(text, label) pairs from a CSV or JSONL file; a row with an empty field is an error."""
    for n, record in _records(path):
        text = _pick(record, TEXT_KEYS, path, n, "text").strip()
        label = _pick(record, LABEL_KEYS, path, n, "label").strip()
        if not text:
            raise InputError(f"{path}:{n}: text is empty")
        if not label:
            raise InputError(f"{path}:{n}: label is empty")
        yield text, label


def iter_texts(path: str | Path) -> Iterator[str]:
    """Texts from a CSV/JSONL file with a text column, or from a plain file, one a line.

    Blank lines of a plain file are skipped; a row with an empty text in a
    CSV/JSONL file is an error, since it is a record the user meant to send.
    """
    if _kind(path) == "txt":
        fh = _open(path)
        try:
            with fh:
                for line in fh:
                    if line.strip():
                        yield line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise InputError(f"{path} is not UTF-8 text (bad byte at offset {exc.start})") from None
        return
    for n, record in _records(path):
        text = _pick(record, TEXT_KEYS, path, n, "text")
        if not text.strip():
            raise InputError(f"{path}:{n}: text is empty")
        yield text


def read_class_file(path: str | Path) -> dict[str, str]:
    """A mapping of class name to description, from YAML or JSON.

    Also accepts a list of ``{name, description}`` objects.
    """
    fh = _open(path)
    try:
        with fh:
            raw = fh.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (bad byte at offset {exc.start})") from None
    import yaml

    try:
        data = json.loads(raw) if Path(path).suffix.lower() == ".json" else yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot parse class file ({str(exc).splitlines()[0]})") from None
    if isinstance(data, list):
        try:
            data = {str(item["name"]): item.get("description") for item in data}
        except (TypeError, KeyError):
            raise InputError(f"{path}: a list of classes needs a 'name' in every item") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of class name to description")
    out: dict[str, str] = {}
    for name, desc in data.items():
        if not str(name).strip():
            raise InputError(f"{path}: a class name is empty")
        if desc is None or not str(desc).strip():
            raise InputError(f"{path}: class {name!r} has an empty description")
        out[str(name).strip()] = str(desc).strip()
    return out
