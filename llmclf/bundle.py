"""The ``.model`` bundle: one zip file, no pickle.

Members:

* ``manifest.json``: format version, classes, descriptions, embedder, training
  parameters, and the sha256 and size of every other member;
* ``head.npz``: the head's arrays, read back with ``allow_pickle=False``;
* ``examples.jsonl``: every training example with its source;
* ``vectors.npy`` (optional, ``--keep-vectors``): the examples' embeddings as float16, row for row;
* ``tfidf.json`` (hybrid heads): the TF-IDF terms in column order and their idf, per block;
* ``encoder.npz`` (``--finetune``): the tuned MiniLM weights, int8 and float32 arrays that replace the
  shipped graph's own (:mod:`llmclf.tuned_encoder`); the graph itself never comes from a bundle.

A bundle from a stranger cannot run code: JSON and plain ``.npy`` arrays are
all that is ever parsed. It cannot exhaust memory or time either: every
member is read streaming up to a ceiling derived from the manifest (the head
is exactly classes x dim float32s), highly compressed members are refused
before they are inflated, the manifest is validated by a strict pydantic
model (:mod:`llmclf.manifest`), array headers are checked before their data
is read, and NaN, infinite or non-positive numbers are refused. Every failure
is a :class:`~llmclf.errors.BundleError`.

Writes go to a temporary file in the same folder and are renamed over the
target, so an interrupted save leaves the old file.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .atomic import atomic_writer, check_writable
from .errors import BundleError, BundleUnreadable, InputError, redact
from .examples import WEIGHT, Example, Source, valid_weight
from .jsonlines import json_line, split_lines
from .jsonlines import loads as strict_json
from .paths import url_in_path
from .tfidf import MAX_TERM_CHARS, MAX_TEXT_CHARS, TfidfBlock, TfidfFeatures

__all__ = ["FORMAT_VERSION", "Bundle", "read_bundle", "read_manifest", "write_bundle"]

FORMAT = "llmclf-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HEAD = "head.npz"
EXAMPLES = "examples.jsonl"
VECTORS = "vectors.npy"
TFIDF = "tfidf.json"
ENCODER = "encoder.npz"
HEAD_ARRAYS = ("coef", "intercept", "temperature")

MAX_MANIFEST_BYTES = 64 * 1024**2
MAX_EXAMPLES_BYTES = 512 * 1024**2  # ~2 million examples of ordinary length
MAX_EXAMPLE_LINE = 8 * 1024**2  # a stored text is at most MAX_TEXT_CHARS, and JSON may escape a character in 6
MAX_RATIO = 100  # inflated / compressed: JSON Lines of text is ~3-10x; a bomb of spaces is ~1000x
RATIO_FLOOR = 1024**2  # members smaller than this are never refused for their ratio
NPY_OVERHEAD = 64 * 1024  # headers and zip structure of head.npz around the raw float32 data
MAX_HEAD_BYTES = 4 * 1024**3
# What numpy raises on a malformed .npy header: it parses the header's dict with ast, so an unbalanced
# bracket surfaces as tokenize.TokenError, which is no SyntaxError.
NPY_ERRORS = (ValueError, OSError, EOFError, UnicodeDecodeError, SyntaxError, tokenize.TokenError)
# What zipfile raises on a damaged archive, beyond BadZipFile: a flipped bit in a compressed stream is
# zlib.error, an unknown "version needed" or compression method NotImplementedError, an "encrypted" flag
# RuntimeError, and a flag switching a member to LZMA or bzip2 their own errors.
ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)
# Errors of opening a file, not of what it holds (zipfile's seeks in a cut-short file are OSErrors too)
CANNOT_OPEN = {errno.EACCES, errno.EPERM, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EIO, errno.ENXIO}
try:
    import lzma

    ZIP_ERRORS += (lzma.LZMAError,)
except ImportError:  # a Python built without lzma cannot open such a member at all: NotImplementedError
    pass
TFIDF_BYTES_PER_TERM = 6 * 1000 + 40  # a term of MAX_TERM_CHARS escaped characters, its idf and punctuation
ENCODER_BYTES = 12 * 1024**2  # the tuned MiniLM arrays are 10.6 MB with their .npy headers


@dataclass
class Bundle:
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    examples: list[Example]
    vectors: np.ndarray | None = None  # (len(examples), dim) float32, when the bundle keeps them
    tfidf: TfidfFeatures | None = None  # the hybrid head's sparse features
    encoder: dict[str, np.ndarray] | None = None  # tuned MiniLM weights (see tuned_encoder)


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _jsonl_bytes(examples: list[Example]) -> bytes:
    """The examples as JSON Lines, each text cut to the part that counts (MAX_TEXT_CHARS: TF-IDF reads no more,
    MiniLM far less). A 1.6 MB training text made a line the reader refused: a bundle that saved but never loaded."""
    return "".join(json_line(e.to_dict() | {"text": e.text[:MAX_TEXT_CHARS]}) for e in examples).encode("utf-8")


def _compression(data: bytes) -> int:
    """How a member is stored: deflated, unless it deflates so far that the reader would refuse it as a bomb
    (many copies of one long text do); then as it is."""
    if len(data) > RATIO_FLOOR and len(data) > MAX_RATIO // 2 * len(zlib.compress(data, 6)):
        return zipfile.ZIP_STORED
    return zipfile.ZIP_DEFLATED


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def check_bundle_target(path: str | os.PathLike[str] | IO[bytes]) -> Path | str | IO[bytes]:
    """``path`` if a bundle may be written there: nothing yet, an empty file, or a bundle (which it replaces).
    An fsspec URL (``s3://...``; ``load`` reads them) or a binary file object comes back as it was given; a local
    path as a Path.

    Anything else is the user's and stays: `--save data.csv` (meant as --data) replaced the training data with the
    bundle. A folder is refused here too, before any training rather than after it."""
    if _is_url(path):
        return _check_url_target(str(path))
    if _is_stream(path):
        if isinstance(path, io.TextIOBase):
            raise InputError("a bundle is binary: open the file with mode 'wb', not 'w'")
        return path
    if not isinstance(path, str | os.PathLike):  # save(None) wrote a bundle named "None", save(BytesIO()) its repr
        raise InputError(
            f"a bundle is saved to a path, an fsspec URL or a binary file object, not {type(path).__name__}"
        )
    if str(path).endswith(("/", os.sep)):  # Path() drops the slash: save("models/") wrote a file named models
        raise BundleError(f"cannot write {path}: a bundle is a file; name it, as in {path}pets.model")
    path = Path(str(path).removeprefix("file://")).expanduser()  # as load reads it: save("~/x.model") made "./~"
    try:
        check_writable(path)
    except OSError as exc:
        said = f"it {exc.strerror}" if exc.strerror.startswith("is ") else exc.strerror  # it is a folder, ...
        raise BundleError(f"cannot write {path}: {said}") from None
    if not path.is_file() or path.stat().st_size == 0:
        return path
    if not _holds_bundle(path):
        raise BundleError(
            f"{path} exists and is not a model bundle: not overwritten (choose another --save path, or remove it)"
        )
    return path


def _holds_bundle(target: Any) -> bool:
    """Whether a file (a path, or one open for reading) is a bundle that a save may replace: any llmclf bundle, of
    any format version, has a manifest, and that is enough."""
    try:
        with zipfile.ZipFile(target) as zf:
            return MANIFEST in zf.namelist()
    except ZIP_ERRORS:
        return False


def write_bundle(
    path: str | os.PathLike[str] | IO[bytes],
    manifest: dict[str, Any],
    arrays: dict[str, np.ndarray],
    examples: list[Example],
    vectors: np.ndarray | None = None,
    tfidf: TfidfFeatures | None = None,
    encoder: dict[str, np.ndarray] | None = None,
) -> Path | str | IO[bytes]:
    path = check_bundle_target(path)  # a Path; an fsspec URL or a file object as given
    members = {HEAD: _npz_bytes(arrays), EXAMPLES: _jsonl_bytes(examples)}
    if encoder is not None:
        members[ENCODER] = _npz_bytes(encoder)
    if vectors is not None:
        members[VECTORS] = _npy_bytes(np.asarray(vectors, dtype=np.float16))
    if tfidf is not None:
        blocks = [{"terms": b.terms, "idf": b.idf.tolist()} for b in tfidf.blocks]
        members[TFIDF] = json.dumps({"blocks": blocks}, ensure_ascii=False, allow_nan=False).encode("utf-8")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **manifest,
        "members": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in members.items()
        },
    }

    def write(fh: IO[bytes]) -> None:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False))
            for name, data in members.items():
                zf.writestr(name, data, compress_type=_compression(data))
        _loads_back(fh, path)

    if isinstance(path, str) or _is_stream(path):  # a URL or a file object: written whole here, then sent
        with tempfile.NamedTemporaryFile(suffix=".model") as fh:
            write(fh)
            fh.seek(0)
            if isinstance(path, str):
                _upload(fh, path)
            else:
                shutil.copyfileobj(fh, path)
        return path
    try:
        with atomic_writer(path) as fh:
            write(fh)
    except OSError as exc:
        raise BundleError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _is_stream(target: Any) -> bool:
    """A binary file object to save to (``io.BytesIO``, an open file, a zip member), as ``load`` reads one."""
    return hasattr(target, "write") and not isinstance(target, str | os.PathLike)


def _is_url(path: Any) -> bool:
    """An fsspec URL (``s3://``, ``memory://``...), which ``load`` reads too; ``file://`` is a local path."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def _fsspec(url: str, doing: str) -> Any:
    try:
        import fsspec
    except ImportError:
        raise BundleError(f"{doing} {redact(url)} needs fsspec: pip install 'llmclf[fsspec]'") from None
    return fsspec


def _check_url_target(url: str) -> str:
    """As for a path: a URL that holds something other than a bundle is the user's and stays."""
    fsspec = _fsspec(url, "saving to")
    shown = redact(url)
    try:
        fs, where = fsspec.core.url_to_fs(url)
        if fs.isdir(where):
            raise BundleError(f"cannot write {shown}: it is a folder")
        if not fs.exists(where) or fs.size(where) == 0:
            return url
        with fs.open(where, "rb") as fh:
            ours = _holds_bundle(fh)
    except BundleError:
        raise
    except Exception as exc:  # fsspec backends raise their own kinds; all mean "could not reach it"
        raise BundleError(f"cannot write {shown}: {type(exc).__name__}: {exc}"[:400]) from None
    if not ours:
        raise BundleError(f"{shown} exists and is not a model bundle: not overwritten (choose another URL)")
    return url


def _upload(fh: IO[bytes], url: str) -> None:
    fsspec = _fsspec(url, "saving to")
    try:
        with fsspec.open(url, "wb") as out:
            shutil.copyfileobj(fh, out)
    except Exception as exc:  # as in _fetch: each backend has its own errors
        raise BundleError(f"cannot write {redact(url)}: {type(exc).__name__}: {exc}"[:400]) from None


def _loads_back(fh: IO[bytes], path: Path | str) -> None:
    """Read what was just written, before it replaces anything: a bundle that saves but does not load (a class
    name past the manifest's limits, say) is a BundleError here, and whatever was at ``path`` stays."""
    fh.flush()
    fh.seek(0)
    try:
        read_bundle(fh)
    except BundleError as exc:
        label = getattr(path, "name", "to the file object") if _is_stream(path) else redact(str(path))
        raise BundleError(
            f"cannot save {label}: it would not load back ({exc})".replace(str(fh.name), "bundle")
        ) from None


# -- reading ---------------------------------------------------------------------------------------------------


MAX_BUNDLE_BYTES = 2 * 1024**3  # what is fetched from a URL or read from a stream at most


def _resolve(source: Any) -> tuple[Any, Any]:
    """(label for messages, what ZipFile opens) for a path, ``bytes``, a binary file object or an fsspec URL."""
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bundle bytes>", io.BytesIO(bytes(source))
    if hasattr(source, "read"):
        label = str(getattr(source, "name", "<bundle stream>"))
        seekable = getattr(source, "seekable", lambda: False)()
        return label, source if seekable else io.BytesIO(_read_capped(source, label))
    if isinstance(source, str) and source.startswith("file://"):
        return _resolve(source.removeprefix("file://"))
    if _is_url(source):
        return redact(source), io.BytesIO(_fetch(source))
    if not isinstance(source, str | os.PathLike):  # None or 5 was a TypeError from deep inside pathlib
        raise InputError(
            f"a bundle is a path, bytes, a binary file object or an fsspec URL, not {type(source).__name__}"
        )
    path = Path(source).expanduser()
    if not path.exists():
        url = url_in_path(path)  # s3://b/x.model made a Path: s3:/b/x.model
        hint = f" ({url} is a URL: the CLI reads local files; Classifier.load takes it as a string)" if url else ""
        raise BundleError(f"model bundle not found: {path}{hint}")
    if path.is_dir():
        raise BundleError(f"{path} is a folder, not a model bundle")
    if not path.is_file():  # a pipe (--load <(curl ...)), /dev/stdin piped: a zip is read by seeking, so read it whole
        try:
            with open(path, "rb") as fh:
                return path, io.BytesIO(_read_capped(fh, str(path)))
        except OSError as exc:
            raise BundleUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    return path, path


def _read_capped(stream: IO[bytes], label: str) -> bytes:
    data = stream.read(MAX_BUNDLE_BYTES + 1)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{label}: a bundle over {MAX_BUNDLE_BYTES} bytes is refused")
    return data


def _fetch(url: str) -> bytes:
    fsspec = _fsspec(url, "loading")
    try:
        with fsspec.open(url, "rb") as fh:
            return _read_capped(fh, redact(url))
    except FileNotFoundError:
        raise BundleError(f"model bundle not found: {redact(url)}") from None
    except BundleError:
        raise
    except Exception as exc:  # fsspec backends raise their own kinds; all mean "could not fetch"
        raise BundleError(f"cannot fetch {redact(url)}: {type(exc).__name__}: {exc}"[:400]) from None


def _open_zip(source: Any) -> tuple[Any, zipfile.ZipFile]:
    path, target = _resolve(source)
    try:
        zf = zipfile.ZipFile(target)
    except ZIP_ERRORS as exc:
        if isinstance(exc, OSError) and exc.errno in CANNOT_OPEN:  # "corrupt" sent users to a good file
            raise BundleUnreadable(f"cannot read {path}: {exc.strerror}") from None
        raise BundleError(f"{path} is not a valid llmclf bundle (corrupt or truncated zip: {exc})") from None
    names = zf.namelist()
    if len(names) != len(set(names)):
        zf.close()
        raise BundleError(f"{path} is not a valid llmclf bundle: a member name appears twice")
    return path, zf


def _read_member(zf: zipfile.ZipFile, name: str, path: Path, limit: int, expected: Any = None) -> bytes:
    """The member's bytes, read streaming and never more than ``limit`` of them."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise BundleError(f"{path} is not a complete llmclf bundle: member {name} is missing") from None
    if info.file_size > limit:
        raise BundleError(f"{path}: member {name} is implausibly large ({info.file_size} bytes, at most {limit})")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise BundleError(
            f"{path}: member {name} is compressed {info.file_size // max(info.compress_size, 1)}x: refused"
        )
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except ZIP_ERRORS as exc:
        raise BundleError(f"{path} is corrupt: cannot read {name} ({exc})") from None
    if len(data) > limit:
        raise BundleError(f"{path}: member {name} inflates past {limit} bytes: refused")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected.sha256:
        raise BundleError(f"{path} is corrupt: {name} does not match its sha256 in the manifest")
    return data


def _parse_manifest(raw: bytes, path: Path):
    from pydantic import ValidationError

    from .manifest import Manifest

    try:
        data = strict_json(raw)
    except (ValueError, UnicodeDecodeError):
        raise BundleError(f"{path} is corrupt: manifest.json is not valid JSON") from None
    except RecursionError:
        raise BundleError(f"{path} is corrupt: manifest.json is nested too deeply") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(f"{path} is not an llmclf bundle (manifest has no format {FORMAT!r})")
    version = data.get("format_version")
    if type(version) is not int:
        raise BundleError(f"{path} is corrupt: format_version must be a whole number, not {version!r}"[:300])
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path} has bundle format {version}; this llmclf reads up to {FORMAT_VERSION}: upgrade llmclf"
        )
    try:
        return Manifest.model_validate(data), data
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "manifest"
        raise BundleError(f"{path} is corrupt: manifest field {where}: {first.get('msg', 'invalid')}"[:500]) from None
    except RecursionError:
        raise BundleError(f"{path} is corrupt: manifest.json is nested too deeply") from None


def read_manifest(source: Any) -> dict[str, Any]:
    """Only the validated manifest: what ``llmclf info`` needs, without inflating the other members."""
    path, zf = _open_zip(source)
    with zf:
        _, data = _parse_manifest(_read_member(zf, MANIFEST, path, MAX_MANIFEST_BYTES), path)
    return data


def read_bundle(source: Any, with_examples: bool = True) -> Bundle:
    """A bundle from a path, ``bytes``, a binary file object or an fsspec URL (``s3://``, ``memory://``...).

    ``with_examples=False`` skips the training examples and vectors (an inference-only load).
    """
    path, zf = _open_zip(source)
    with zf:
        manifest, data = _parse_manifest(_read_member(zf, MANIFEST, path, MAX_MANIFEST_BYTES), path)
        for name in (HEAD, EXAMPLES):
            if name not in manifest.members:
                raise BundleError(f"{path} is not a complete llmclf bundle: manifest lists no {name}")
        n, dim = len(manifest.classes), manifest.embedder.dim
        info = manifest.training.tfidf
        width = dim + (info.n_features if info else 0)
        tfidf = None
        if info is not None:
            if TFIDF not in manifest.members:
                raise BundleError(f"{path} is not a complete llmclf bundle: a hybrid head without {TFIDF}")
            limit = min(info.n_features * TFIDF_BYTES_PER_TERM + 1024, MAX_HEAD_BYTES)
            tfidf = _read_tfidf(_read_member(zf, TFIDF, path, limit, manifest.members[TFIDF]), path, info)
        head_limit = min(4 * n * width + 8 * n + 8 + NPY_OVERHEAD, MAX_HEAD_BYTES)
        head_bytes = _read_member(zf, HEAD, path, head_limit, manifest.members[HEAD])
        examples_bytes = (
            _read_member(zf, EXAMPLES, path, MAX_EXAMPLES_BYTES, manifest.members[EXAMPLES]) if with_examples else b""
        )
        examples = _read_examples(examples_bytes, path)
        vectors = None
        if VECTORS in manifest.members and with_examples:
            limit = 2 * len(examples) * dim + NPY_OVERHEAD
            raw = _read_member(zf, VECTORS, path, limit, manifest.members[VECTORS])
            vectors = _read_vectors(raw, path, (len(examples), dim))
        encoder = None
        if manifest.embedder.tuned_sha256 is not None:
            if ENCODER not in manifest.members:
                raise BundleError(f"{path} is not a complete llmclf bundle: a tuned embedder without {ENCODER}")
            raw = _read_member(zf, ENCODER, path, ENCODER_BYTES, manifest.members[ENCODER])
            encoder = _read_encoder(raw, path, manifest.embedder.tuned_sha256)
    arrays = _read_head(head_bytes, path, {"coef": (n, width), "intercept": (n,), "temperature": (1,)})
    return Bundle(data, arrays, examples, vectors, tfidf, encoder)


def _read_encoder(raw: bytes, path: Path, digest: str) -> dict[str, np.ndarray]:
    """The tuned weights: exactly the expected arrays, each header checked before its data, then the digest."""
    from .tuned_encoder import check_arrays, encoder_digest, tuned_tensors

    what = f"{path}: refusing {ENCODER}"
    specs = {name: (shape, np.dtype(dtype)) for name, (dtype, shape, _) in tuned_tensors().items()}
    arrays = _read_npz(raw, what, specs)
    check_arrays(arrays, what)
    if encoder_digest(arrays) != digest:
        raise BundleError(f"{what}: its arrays do not match the tuned encoder's sha256 in the manifest")
    return arrays


def _read_tfidf(raw: bytes, path: Path, info: Any) -> TfidfFeatures:
    """The terms and idf of each block, checked against the manifest: unique non-empty strings, idf >= 1."""
    try:
        data = strict_json(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BundleError(f"{path} is corrupt: {TFIDF} is not valid JSON") from None
    blocks = data.get("blocks") if isinstance(data, dict) else None
    if not isinstance(blocks, list) or len(blocks) != len(info.blocks):
        raise BundleError(f"{path} is corrupt: {TFIDF} does not hold the {len(info.blocks)} blocks the manifest lists")
    out = []
    for block, expected in zip(blocks, info.blocks, strict=True):
        terms = block.get("terms") if isinstance(block, dict) else None
        idf = block.get("idf") if isinstance(block, dict) else None
        what = f"{path} is corrupt: {TFIDF} block {expected.analyzer}"
        if not (isinstance(terms, list) and isinstance(idf, list) and len(terms) == len(idf) == expected.n_terms):
            raise BundleError(f"{what} does not hold {expected.n_terms} terms and idf values")
        if not all(type(t) is str and 0 < len(t) <= MAX_TERM_CHARS for t in terms) or len(set(terms)) != len(terms):
            raise BundleError(f"{what}: terms must be unique non-empty strings of at most {MAX_TERM_CHARS} characters")
        try:
            if not all(type(v) in (int, float) for v in idf):
                raise TypeError
            values = np.array(idf, dtype=np.float64)
        except (TypeError, OverflowError):  # a string, or an integer of 400 digits
            raise BundleError(f"{what}: idf values must be numbers") from None
        if not (np.isfinite(values).all() and (values >= 1.0).all()):
            raise BundleError(f"{what}: idf values must be finite and at least 1")
        out.append(TfidfBlock(expected.analyzer, tuple(expected.ngram_range), terms, values))
    return TfidfFeatures(out, info.weight, info.unicode)


def _read_vectors(raw: bytes, path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        vectors = _read_npy(io.BytesIO(raw), shape)
    except BundleError as exc:
        raise BundleError(f"{path}: refusing {VECTORS}: {exc}") from None
    except NPY_ERRORS as exc:
        raise BundleError(f"{path}: refusing {VECTORS}: unreadable ({exc})") from None
    if not np.isfinite(vectors).all():
        raise BundleError(f"{path}: refusing {VECTORS}: it holds NaN or infinite values")
    return vectors


def _read_head(raw: bytes, path: Path, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The head's arrays, each header checked for shape and dtype before any data is read."""
    arrays = _read_npz(raw, f"{path}: refusing {HEAD}", {key: (shapes[key], None) for key in HEAD_ARRAYS})
    if not (np.isfinite(arrays["coef"]).all() and np.isfinite(arrays["intercept"]).all()):
        raise BundleError(f"{path}: refusing {HEAD}: the weights hold NaN or infinite values")
    temperature = float(arrays["temperature"][0])
    if not np.isfinite(temperature) or temperature <= 0:
        raise BundleError(f"{path}: refusing {HEAD}: temperature must be a positive number, not {temperature}")
    return arrays


def _read_npz(
    raw: bytes, what: str, specs: dict[str, tuple[tuple[int, ...], np.dtype | None]]
) -> dict[str, np.ndarray]:
    """Exactly the arrays of ``specs`` (name -> shape, and a dtype, or None for any float), no other member."""
    try:
        npz = zipfile.ZipFile(io.BytesIO(raw))
    except ZIP_ERRORS as exc:
        raise BundleError(f"{what}: not an .npz archive ({exc})") from None
    with npz:
        names = sorted(npz.namelist())
        if names != sorted(f"{name}.npy" for name in specs):
            listed = list(specs) if len(specs) <= 5 else [*list(specs)[:3], f"... {len(specs)} arrays in all"]
            raise BundleError(f"{what}: it holds {names[:5]}{'...' if len(names) > 5 else ''}, not {listed}")
        arrays = {}
        for name, (shape, dtype) in specs.items():
            try:
                with npz.open(f"{name}.npy") as fh:
                    arrays[name] = _read_npy(fh, shape, dtype)
            except BundleError as exc:
                raise BundleError(f"{what}: {name} {exc}") from None
            except (*NPY_ERRORS, *ZIP_ERRORS) as exc:
                raise BundleError(f"{what}: {name} is unreadable ({exc})") from None
    return arrays


def _read_npy(fh: IO[bytes], shape: tuple[int, ...], exact: np.dtype | None = None) -> np.ndarray:
    """A float array of ``shape`` (as float32, or float64 if stored so), or one of exactly dtype ``exact``."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise BundleError(f"has an unknown .npy version {version}")
    header = fmt.read_array_header_1_0(fh) if version == (1, 0) else fmt.read_array_header_2_0(fh)
    found, fortran, dtype = header
    if dtype.hasobject:
        raise BundleError("holds Python objects (pickle): refused")
    if exact is not None:
        if dtype != exact:
            raise BundleError(f"has dtype {dtype}, not {exact}")
    elif dtype.kind != "f" or dtype.itemsize > 8:
        raise BundleError(f"has dtype {dtype}, not a float")
    if tuple(found) != shape:
        raise BundleError(f"has shape {tuple(found)}, expected {shape} from the manifest")
    count = int(np.prod(shape))
    data = fh.read(count * dtype.itemsize + 1)
    if len(data) != count * dtype.itemsize:
        raise BundleError("is truncated or has trailing data")
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    if exact is not None:
        return np.ascontiguousarray(array)
    return array.astype(np.float32 if dtype.itemsize <= 4 else np.float64)


def _read_examples(raw: bytes, path: Path) -> list[Example]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"{path} is corrupt: {EXAMPLES} is not UTF-8") from None
    examples = []
    for n, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        if len(line) > MAX_EXAMPLE_LINE:
            raise BundleError(f"{path} is corrupt: {EXAMPLES} line {n} is over {MAX_EXAMPLE_LINE} characters")
        try:
            record = strict_json(line)
        except RecursionError:
            raise BundleError(f"{path} is corrupt: {EXAMPLES} line {n} is nested too deeply") from None
        except ValueError as exc:
            raise BundleError(f"{path} is corrupt: {EXAMPLES} line {n} is not JSON ({exc})") from None
        if not (
            isinstance(record, dict)
            and isinstance(record.get("text"), str)
            and isinstance(record.get("label"), str)
            and record.get("source", Source.USER.value) in {s.value for s in Source}
            and isinstance(record.get("meta", {}), dict)
            and valid_weight((record.get("meta") or {}).get(WEIGHT, 1.0))
        ):
            raise BundleError(f"{path} is corrupt: {EXAMPLES} line {n} is not an example")
        examples.append(Example.from_dict(record))
    return examples
