"""Reading class files (class name -> description) and tag files (tag id, name, instructions).

Both are small files a person writes or a spreadsheet saves: YAML or JSON, or a CSV, TSV or JSON Lines table of
them, read with the data readers of :mod:`llmclf.datafiles` (Excel's byte-order mark and ``sep=`` line, ``-``
for standard input, a pipe by what it holds). Every problem becomes an :class:`InputError` naming the file.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any, ClassVar

from .blank import is_blank
from .compressed import format_suffix
from .datafiles import (
    WORKBOOK_SUFFIXES,
    _column,
    _is_pipe,
    _is_sep_line,
    _open_text,
    _parse_json,
    _pipe_text,
    _records,
    _rows,
    _scalar_text,
    _stdin_text,
    _undecodable_file,
    check_readable,
)
from .errors import InputError
from .jsonlines import GivenTwice, unique_pairs
from .jsonlines import loads as strict_json

__all__ = ["CLASS_NAME_KEYS", "MAX_CLASS_FILE_BYTES", "read_class_file", "read_tag_file"]

MAX_CLASS_FILE_BYTES = 10 * 1024**2  # a class file is a few KB; a bigger one is a mistake or an attack


@functools.cache
def _no_alias_loader():
    import yaml  # only when a class file is read

    class NoAliasLoader(yaml.SafeLoader):
        """YAML's safe loader without anchors and aliases: a 330-byte "billion laughs" cannot expand to gigabytes.

        A plain scalar stays the text written, except ``null``/``~``/nothing: the classes ``yes``, ``no``, ``on``
        and ``007`` stay themselves (YAML 1.1's implicit types made them True, False, True and 7).
        """

        yaml_implicit_resolvers: ClassVar[dict] = {
            first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }

        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, "YAML aliases (*name) are not allowed in a class file", event.start_mark
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            seen: set[object] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    if key in seen:
                        raise GivenTwice(key)
                    seen.add(key)
                except TypeError:  # an unhashable key: the base class says what is wrong with it
                    pass
            return super().construct_mapping(node, deep)

    return NoAliasLoader


def _read_text(path: str | Path) -> str:
    """A whole small file as text (class and tag files), or a one-line error."""
    fh = _open_text(path)
    try:
        with fh:
            return fh.read(MAX_CLASS_FILE_BYTES + 1)  # past it, refused by the caller: never read a huge file whole
    except UnicodeDecodeError as exc:
        raise InputError(_undecodable_file(path, exc.start, fh.encoding)) from None


CLASS_NAME_KEYS = ("name", "class", "label")


_CLASS_COLUMNS = (*CLASS_NAME_KEYS, "description")


def read_class_file(path: str | Path) -> dict[str, str]:
    """A mapping of class name to description, from YAML or JSON.

    Also accepts a list of ``{name, description}`` objects, and a CSV, TSV or JSON Lines file of them (a
    spreadsheet of classes: Excel's byte-order mark and ``sep=`` line as for data files; ``class`` or ``label``
    may name the name column). ``-`` is standard input; it and a pipe (``<(...)``) are read by what they hold.
    """
    if format_suffix(path) in (".csv", ".tsv", ".jsonl", ".ndjson"):
        return _class_map(path, [_class_row(path, n, r) for n, r in _records(path, _CLASS_COLUMNS)])
    if str(path) == "-" or _is_pipe(path):
        return _piped_class_file(path)
    raw = _read_text(path)
    return _class_file_text(raw, path, is_json=format_suffix(path) == ".json")


def _piped_class_file(path: str | Path) -> dict[str, str]:
    """Classes from standard input or a pipe, which have no name to go by: JSON Lines when every line holds an
    object, CSV when the first line is a header naming a class name column, else YAML (JSON among it)."""
    fh, _ = _stdin_text() if str(path) == "-" else _pipe_text(path)
    path = "standard input" if str(path) == "-" else path
    try:
        with fh:
            raw = fh.read(MAX_CLASS_FILE_BYTES + 1)
    except UnicodeDecodeError as exc:
        raise InputError(_undecodable_file(path, exc.start, fh.encoding)) from None
    lines = [line for line in raw.removeprefix("\ufeff").splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
        kind = "jsonl"
    elif lines and _names_class_column(lines[1] if _is_sep_line(lines[0]) and len(lines) > 1 else lines[0]):
        kind = "csv"
    else:
        return _class_file_text(raw, path, is_json=False)
    rows = _rows(io.StringIO(raw.removeprefix("\ufeff")), kind, path, _CLASS_COLUMNS)
    return _class_map(path, [_class_row(path, n, r) for n, r in rows])


def _names_class_column(line: str) -> bool:
    """Whether a first line is a CSV header with a class name column (``name,description``)."""
    delimiter = next((d for d in (",", ";", "\t") if d in line), None)
    return delimiter is not None and any(_column(c) in CLASS_NAME_KEYS for c in line.split(delimiter))


def _class_file_text(raw: str, path: str | Path, is_json: bool) -> dict[str, str]:
    """Classes from the text of a YAML or JSON class file."""
    if len(raw) > MAX_CLASS_FILE_BYTES:
        raise InputError(f"{path}: a class file over {MAX_CLASS_FILE_BYTES // 1024**2} MB is refused")
    import yaml

    try:
        if is_json:
            data = strict_json(raw, object_pairs_hook=unique_pairs)
        else:
            data = yaml.load(raw, Loader=_no_alias_loader())
    except GivenTwice as exc:
        raise InputError(f"{path}: {_scalar_text(exc.key)!r} is given twice") from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot parse class file ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise InputError(f"{path}: cannot parse class file (nested too deeply)") from None
    if isinstance(data, list):
        try:
            pairs = [(str(item["name"]), item.get("description")) for item in data]
        except (TypeError, KeyError):
            raise InputError(f"{path}: a list of classes needs a 'name' in every item") from None
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        raise InputError(f"{path}: expected a mapping of class name to description")
    return _class_map(path, pairs)


def _class_row(path: str | Path, n: int, record: dict[str, Any]) -> tuple[Any, Any]:
    """(name, description) of a CSV or JSON Lines row of a class file."""
    name = next((record[k] for k in CLASS_NAME_KEYS if k in record), None)
    if name is None:
        found = ", ".join(repr(k) for k in record) or "none"
        raise InputError(f"{path}:{n}: no class name column (expected one of: name, class, label; found: {found})")
    return name, record.get("description")


def _class_map(path: str | Path, pairs: list[tuple[Any, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, desc in pairs:
        if is_blank(_scalar_text(name)):
            raise InputError(f"{path}: a class name is empty")
        if isinstance(desc, list) and all(isinstance(d, str) for d in desc):
            desc = " ".join(d.strip() for d in desc)  # a list of sentences is one description
        if isinstance(desc, dict | list):
            raise InputError(f"{path}: class {name!r}: a description is text or a list of sentences")
        if desc is None or is_blank(_scalar_text(desc)):
            raise InputError(f"{path}: class {name!r} has an empty description")
        if _scalar_text(name).strip() in out:
            raise InputError(f"{path}: class {_scalar_text(name).strip()!r} is given twice")
        out[_scalar_text(name).strip()] = _scalar_text(desc).strip()
    if not out:  # {} or []: "need at least two classes, got 0" never named the file
        raise InputError(f"{path} holds no classes")
    return out


def read_tag_file(path: str | Path) -> list[tuple[object, object, object]]:
    """(tag_id, name, instructions) of each tag in a CSV (``id`` also accepted; headers in any case, Excel's
    byte-order mark skipped, as for data files), JSON Lines (what ``llmclf tags list SET --json`` writes), or a
    JSON list of objects (or ``{"tags": [...]}``)."""
    suffix = format_suffix(path)
    if suffix in WORKBOOK_SUFFIXES:
        check_readable(path)  # says to save it as CSV
    if suffix in (".csv", ".tsv", ".jsonl", ".ndjson") or (suffix != ".json" and (str(path) == "-" or _is_pipe(path))):
        # stdin or a pipe (<(llmclf tags list SET --json --db other.db)) by what it holds: JSON Lines, an array, CSV
        items: Any = [record for _, record in _records(path, ("tag_id", "id", "name", "instructions"))]
        path = "standard input" if str(path) == "-" else path
    elif suffix == ".json":
        text = _read_text(path)
        if len(text) > MAX_CLASS_FILE_BYTES:
            raise InputError(
                f"{path}: a JSON tag file over {MAX_CLASS_FILE_BYTES // 1024**2} MB is refused; write JSON Lines"
            )
        try:
            items = _parse_json(text, str(path), object_pairs_hook=unique_pairs)
        except GivenTwice as exc:  # JSON keeps the last of two equal keys without a word
            raise InputError(f"{path}: {_scalar_text(exc.key)!r} is given twice in one object") from None
        if isinstance(items, dict):
            items = items.get("tags", items)
    else:
        raise InputError(f"{path}: expected a .csv, .jsonl or .json tag file")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InputError(f"{path}: expected a list of tags with tag_id, name and instructions")
    if not items:  # "imported 0 tag(s)" and no set: an empty export went by as a success
        raise InputError(f"{path} holds no tags")
    rows = [{_column(k): v for k, v in i.items()} for i in items]  # headers and keys in any case (CSV's already are)
    return [(i.get("tag_id", i.get("id")), i.get("name"), i.get("instructions", "")) for i in rows]
