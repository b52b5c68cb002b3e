"""The ``.model`` bundle: one zip file, no pickle.

Members:

* ``manifest.json``: format version, classes, descriptions, embedder, training
  parameters, and the sha256 and size of every other member;
* ``head.npz``: the head's arrays, read back with ``allow_pickle=False``;
* ``examples.jsonl``: every training example with its source.

A bundle from a stranger cannot run code: JSON and plain ``.npz`` arrays are
all that is ever parsed. Writes go to a temporary file in the same folder and
are renamed over the target, so an interrupted save leaves the old file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_writer
from .errors import BundleError
from .examples import Example

__all__ = ["FORMAT_VERSION", "Bundle", "read_bundle", "write_bundle"]

FORMAT = "llmclf-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HEAD = "head.npz"
EXAMPLES = "examples.jsonl"
MAX_MEMBER_BYTES = 2 * 1024**3  # refuse zip bombs before inflating them


@dataclass
class Bundle:
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    examples: list[Example]


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _jsonl_bytes(examples: list[Example]) -> bytes:
    return "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in examples).encode("utf-8")


def write_bundle(
    path: str | os.PathLike[str], manifest: dict[str, Any], arrays: dict[str, np.ndarray], examples: list[Example]
) -> Path:
    path = Path(path)
    members = {HEAD: _npz_bytes(arrays), EXAMPLES: _jsonl_bytes(examples)}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **manifest,
        "members": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in members.items()
        },
    }
    try:
        with atomic_writer(path) as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
            for name, data in members.items():
                zf.writestr(name, data)
    except OSError as exc:
        raise BundleError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _read_member(zf: zipfile.ZipFile, name: str, path: Path, expected: dict[str, Any] | None = None) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise BundleError(f"{path} is not a complete llmclf bundle: member {name} is missing") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise BundleError(f"{path}: member {name} is implausibly large ({info.file_size} bytes)")
    try:
        data = zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise BundleError(f"{path} is corrupt: cannot read {name} ({exc})") from None
    if expected is not None and hashlib.sha256(data).hexdigest() != expected.get("sha256"):
        raise BundleError(f"{path} is corrupt: {name} does not match its sha256 in the manifest")
    return data


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"model bundle not found: {path}")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path} is not a valid llmclf bundle (corrupt or truncated zip: {exc})") from None
    with zf:
        try:
            manifest = json.loads(_read_member(zf, MANIFEST, path))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BundleError(f"{path} is corrupt: manifest.json is not valid JSON") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{path} is not an llmclf bundle (manifest has no format {FORMAT!r})")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BundleError(
                f"{path} has bundle format {version!r}; this llmclf reads up to {FORMAT_VERSION}: upgrade llmclf"
            )
        members = manifest.get("members") or {}
        for name in (HEAD, EXAMPLES):
            if name not in members:
                raise BundleError(f"{path} is not a complete llmclf bundle: manifest lists no {name}")
        head_bytes = _read_member(zf, HEAD, path, members[HEAD])
        examples_bytes = _read_member(zf, EXAMPLES, path, members[EXAMPLES])
    try:
        with np.load(io.BytesIO(head_bytes), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise BundleError(f"{path}: refusing {HEAD}: {exc}") from None
    try:
        examples = [
            Example.from_dict(json.loads(line)) for line in examples_bytes.decode("utf-8").splitlines() if line.strip()
        ]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is corrupt: {EXAMPLES} is unreadable ({exc})") from None
    return Bundle(manifest, arrays, examples)
