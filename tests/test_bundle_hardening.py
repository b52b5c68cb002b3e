"""A stranger's bundle: every malformed one ends as BundleError, fast and in bounded memory."""

import contextlib
import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmclf import BundleError, Classifier, InputError
from llmclf.bundle import read_bundle, read_manifest


def coef_width(bundle):
    """Columns of the bundle's coef: the embedding's, then the hybrid head's TF-IDF terms."""
    manifest = read_manifest(bundle)
    tfidf = manifest["training"].get("tfidf") or {"blocks": []}
    return manifest["embedder"]["dim"] + sum(b["n_terms"] for b in tfidf["blocks"])


def members_of(bundle):
    with zipfile.ZipFile(bundle) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write(dst, members, manifest=None, fix_hashes=True, raw_manifest=None, compression=zipfile.ZIP_DEFLATED):
    members = dict(members)
    if manifest is None and raw_manifest is None:
        manifest = json.loads(members["manifest.json"])
    if fix_hashes and isinstance(manifest, dict) and isinstance(manifest.get("members"), dict):
        for name, meta in manifest["members"].items():
            if name in members and isinstance(meta, dict):
                meta["sha256"] = hashlib.sha256(members[name]).hexdigest()
                meta["size"] = len(members[name])
    members["manifest.json"] = raw_manifest if raw_manifest is not None else json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def edited(pets_bundle, tmp_path, edit):
    members = members_of(pets_bundle)
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    return write(tmp_path / "bad.model", members, manifest)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update(training=[1, 2]), "training"),
        (lambda m: m.update(descriptions=["cat"]), "descriptions"),
        (lambda m: m["members"].update({"head.npz": "abc"}), "members"),
        (lambda m: m.update(history=7), "history"),
        (lambda m: m.update(format_version=True), "format_version"),
        (lambda m: m.update(classes="ab"), "classes"),
        (lambda m: m.update(classes=["cat", "cat"]), "unique"),
        (lambda m: m["embedder"].update(dim=10**12), "embedder.dim"),
        (lambda m: m["training"].update(temperature=-1), "temperature"),
        (lambda m: m["embedder"].update(weights_sha256="0" * 64), "other weights"),
        (lambda m: m["embedder"].update(dim=256), r"shape \(2, (\d+)\), expected \(2, (\d+)\)"),
        (lambda m: m["training"]["tfidf"].update(weight=1000), "weight"),
        (lambda m: m["training"]["tfidf"]["blocks"][0].update(analyzer="char"), "analyzer"),
        (lambda m: m["training"]["tfidf"]["blocks"][1].update(ngram_range=[1, 9]), "TF-IDF blocks must be"),
        (lambda m: m["training"]["tfidf"]["blocks"][0].update(n_terms=3), "does not hold 3 terms"),
        (lambda m: m["members"].pop("tfidf.json"), "without tfidf.json"),
        (lambda m: m.update(labels=[1, 2]), "labels must be the classes, in their order"),
        (lambda m: m.update(labels=[1, 2.5]), "labels must be all numbers of one kind"),
        (lambda m: m.update(labels=["cat", "dog"]), "labels"),
    ],
)
def test_manifest_of_the_wrong_shape_is_a_bundle_error(pets_bundle, tmp_path, edit, message):
    with pytest.raises(BundleError, match=message):
        Classifier.load(edited(pets_bundle, tmp_path, edit))


def test_an_unknown_embedder_is_named_and_a_bad_thread_count_is_the_callers_error(pets_bundle, tmp_path):
    """An InputError is a ValueError, so an unknown embedder id was reported as a malformed, "corrupt" bundle, and
    so was Classifier.load(path, threads=0); threads=True was taken as 1 and numpy's 2 refused."""
    unknown = edited(pets_bundle, tmp_path, lambda m: m["embedder"].update(id="bert-xl"))
    with pytest.raises(BundleError) as info:
        Classifier.load(unknown)
    assert str(info.value).startswith(f"{unknown}: unknown embedder 'bert-xl'; known: ") and "corrupt" not in str(
        info.value
    )
    for bad in (0, True, 2.0, 257, "2"):
        with pytest.raises(InputError, match=f"threads must be a whole number from 1 to 256, not {bad!r}"):
            Classifier.load(pets_bundle, threads=bad)
    assert Classifier.load(pets_bundle, threads=np.int64(2)).predict(["woof"]).tolist() == ["dog"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"format": "llmclf-bundle", "format_version": 1, "embedder": {"id": "x", "dim": 1e400}}',
        b'{"format": "llmclf-bundle", "format_version": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"format": "llmclf-bundle", "format_version": NaN}',
    ],
    ids=["dim-1e400", "deep-nesting", "nan"],
)
def test_hostile_manifest_json_is_a_bundle_error(pets_bundle, tmp_path, raw):
    bad = write(tmp_path / "bad.model", members_of(pets_bundle), raw_manifest=raw)
    with pytest.raises(BundleError):
        read_bundle(bad)
    with pytest.raises(BundleError):
        read_manifest(bad)


def test_deeply_nested_example_is_a_bundle_error(pets_bundle, tmp_path):
    members = members_of(pets_bundle)
    members["examples.jsonl"] = b'{"text": "x", "label": "cat", "meta": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n"
    with pytest.raises(BundleError, match="nested too deeply"):
        read_bundle(write(tmp_path / "bad.model", members))


@pytest.mark.parametrize("weight", ['"2"', "-1", "1e400", "true", "[1]", "null"])
def test_an_example_weight_that_is_not_a_finite_number_of_0_or_more_is_a_bundle_error(pets_bundle, tmp_path, weight):
    members = members_of(pets_bundle)
    members["examples.jsonl"] += b'{"text": "x", "label": "cat", "meta": {"weight": ' + weight.encode() + b"}}\n"
    with pytest.raises(BundleError, match=r"is not an example|is not JSON \(1e400 is out of range\)"):
        read_bundle(write(tmp_path / "bad.model", members))


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"coef": "nan"}, "NaN or infinite"),
        ({"intercept": np.array([np.inf, 0], np.float32)}, "NaN or infinite"),
        ({"temperature": np.array([0.0])}, "temperature must be a positive"),
        ({"temperature": np.array([-1.0])}, "temperature must be a positive"),
        ({"temperature": np.array([], np.float64)}, "shape"),
        ({"coef": "3 rows"}, "shape"),
        ({"coef": "int64"}, "dtype"),
    ],
)
def test_bad_numbers_and_shapes_in_the_head_are_refused(pets_bundle, tmp_path, arrays, message):
    width = coef_width(pets_bundle)
    coefs = {
        "nan": np.full((2, width), np.nan, np.float32),
        "3 rows": np.zeros((3, width), np.float32),
        "int64": np.zeros((2, width), np.int64),
    }
    arrays = {k: coefs[v] if isinstance(v, str) else v for k, v in arrays.items()}
    good = {"coef": np.zeros((2, width), np.float32), "intercept": np.zeros(2, np.float32), "temperature": np.ones(1)}
    members = members_of(pets_bundle)
    members["head.npz"] = npz(**{**good, **arrays})
    with pytest.raises(BundleError, match=message):
        read_bundle(write(tmp_path / "bad.model", members))


def test_npy_header_claiming_a_huge_shape_is_refused_before_reading(pets_bundle, tmp_path):
    members = members_of(pets_bundle)
    width = coef_width(pets_bundle)
    raw = npz(coef=np.zeros((2, width), np.float32), intercept=np.zeros(2, np.float32), temperature=np.ones(1))
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        inner = {n: zf.read(n) for n in zf.namelist()}
    inner["coef.npy"] = inner["coef.npy"].replace(f"(2, {width})".encode(), b"(2000000, 1000000)")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in inner.items():
            zf.writestr(name, data)
    members["head.npz"] = buf.getvalue()
    with pytest.raises(BundleError, match=r"shape \(2000000, 1000000\)"):
        read_bundle(write(tmp_path / "bad.model", members))


def test_zip_bomb_member_is_refused_before_inflating(pets_bundle, tmp_path):
    members = members_of(pets_bundle)
    members["examples.jsonl"] = b" " * (64 * 1024**2)  # 64 MiB of spaces deflate to ~64 KiB
    bad = write(tmp_path / "bomb.model", members)
    assert bad.stat().st_size < 1024**2
    with pytest.raises(BundleError, match="compressed"):
        read_bundle(bad)


def test_head_bigger_than_the_manifest_implies_is_refused(pets_bundle, tmp_path):
    members = members_of(pets_bundle)
    members["head.npz"] = npz(
        coef=np.zeros((2, coef_width(pets_bundle)), np.float32),
        intercept=np.zeros(2, np.float32),
        temperature=np.ones(1),
        padding=np.random.default_rng(0).random(100_000),
    )
    with pytest.raises(BundleError, match="implausibly large"):
        read_bundle(write(tmp_path / "bad.model", members, compression=zipfile.ZIP_STORED))


def test_duplicate_member_names_are_refused(pets_bundle, tmp_path):
    members = members_of(pets_bundle)
    bad = tmp_path / "dup.model"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        with pytest.warns(UserWarning):
            zf.writestr("examples.jsonl", b'{"text": "evil", "label": "dog"}\n')
    with pytest.raises(BundleError, match="appears twice"):
        read_bundle(bad)


def test_info_reads_only_the_manifest(pets_bundle, tmp_path):
    members = members_of(pets_bundle)
    members["examples.jsonl"] = b" " * (64 * 1024**2)
    bad = write(tmp_path / "bomb.model", members)
    assert read_manifest(bad)["classes"] == ["cat", "dog"]  # the bomb is never inflated


# -- fuzzing: every manifest and member either loads or is a BundleError -------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
MANIFEST_KEYS = ["format_version", "classes", "embedder", "members", "training", "descriptions", "history",
                 "example_counts", "model_id"]  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_fuzzed_manifests_load_or_raise_bundle_error(pets_bundle, tmp_path_factory, data):
    members = members_of(pets_bundle)
    manifest = json.loads(members["manifest.json"])
    for key in data.draw(st.lists(st.sampled_from(MANIFEST_KEYS), max_size=3, unique=True)):
        manifest[key] = data.draw(json_values)
    path = tmp_path_factory.mktemp("fuzz") / "f.model"
    write(path, members, manifest, fix_hashes=data.draw(st.booleans()))
    with contextlib.suppress(BundleError):
        Classifier.load(path)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(member=st.sampled_from(["head.npz", "examples.jsonl", "manifest.json", "tfidf.json"]), data=st.data())
def test_fuzzed_members_load_or_raise_bundle_error(pets_bundle, tmp_path_factory, member, data):
    members = members_of(pets_bundle)
    original = members[member]
    how = data.draw(st.sampled_from(["random", "flip", "truncate"]))
    if how == "random":
        members[member] = data.draw(st.binary(max_size=2000))
    elif how == "flip":
        i = data.draw(st.integers(0, len(original) - 1))
        members[member] = original[:i] + bytes([original[i] ^ data.draw(st.integers(1, 255))]) + original[i + 1 :]
    else:
        members[member] = original[: data.draw(st.integers(0, len(original)))]
    path = tmp_path_factory.mktemp("fuzz") / "f.model"
    if member == "manifest.json":
        write(path, members, raw_manifest=members[member])
    else:
        write(path, members)
    loads_and_predicts_or_bundle_error(path)


def loads_and_predicts_or_bundle_error(path):
    """A bundle that loads must also predict: a malformed one never gets past load to fail later."""
    try:
        clf = Classifier.load(path)
    except BundleError:
        return
    proba = clf.predict_proba(["woof", "i like milk and bones"])
    assert proba.shape == (2, len(clf.class_names)) and np.isfinite(proba).all()


TFIDF_PARTS = ["blocks", "terms", "idf", "block"]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(part=st.sampled_from(TFIDF_PARTS), value=json_values, data=st.data())
def test_fuzzed_tfidf_vocabularies_load_or_raise_bundle_error(pets_bundle, tmp_path_factory, part, value, data):
    """Structured fuzzing of tfidf.json: well-formed JSON with wrong types, lengths, duplicates or numbers."""
    members = members_of(pets_bundle)
    tfidf = json.loads(members["tfidf.json"])
    which = data.draw(st.integers(0, len(tfidf["blocks"]) - 1))
    block = tfidf["blocks"][which]
    if part == "blocks":
        tfidf["blocks"] = value
    elif part == "block":
        tfidf["blocks"][which] = value
    else:
        items = block[part]
        i = data.draw(st.integers(0, len(items) - 1))
        items[i] = data.draw(
            st.sampled_from([value, items[0], float("nan"), 0.5, -1, "", "x" * 1001, 1e308 * 10, 10**400])
        )
    members["tfidf.json"] = json.dumps(tfidf).encode()
    path = tmp_path_factory.mktemp("fuzz") / "f.model"
    write(path, members)
    loads_and_predicts_or_bundle_error(path)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(raw=st.binary(max_size=3000))
def test_fuzzed_bundle_files_load_or_raise_bundle_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fuzz") / "raw.model"
    path.write_bytes(raw)
    for read in (read_bundle, read_manifest):
        with contextlib.suppress(BundleError):
            read(path)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_damaged_bytes_of_a_saved_bundle_load_or_raise_bundle_error(pets_bundle, tmp_path_factory, data):
    """The file's own bytes, compressed streams and zip headers included, not members written anew.

    A flipped bit inside a deflate stream escaped as zlib.error, and one in a "version needed"
    field as NotImplementedError: found by sweeping every byte of a saved bundle.
    """
    raw = pets_bundle.read_bytes()
    how = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    if how == "flip":
        raw = raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1 :]
    elif how == "truncate":
        raw = raw[:i]
    else:
        raw = raw[:i] + data.draw(st.binary(min_size=1, max_size=16)) + raw[i:]
    path = tmp_path_factory.mktemp("fuzz") / "damaged.model"
    path.write_bytes(raw)
    loads_and_predicts_or_bundle_error(path)


def zip_headers(raw):
    """Offsets of every local file header and central directory entry of a zip."""
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):
        start = 0
        while (at := raw.find(signature, start)) != -1:
            yield signature, at
            start = at + 4


@pytest.mark.parametrize(
    "field, value",
    [
        ("version", 0xFF),  # "version needed to extract": zipfile raises NotImplementedError past 6.3
        ("flags", 0x01),  # "encrypted": zipfile raises RuntimeError for a password
        ("method", 1),  # shrunk: a method zipfile does not implement
        ("method", 12),  # bzip2 over deflate data
        ("method", 14),  # LZMA over deflate data
        ("method", 99),  # AES
        ("stream", 0xFF),  # the first bytes of every compressed stream inverted
    ],
)
def test_damaged_zip_headers_and_streams_are_bundle_errors(pets_bundle, tmp_path, field, value):
    import struct

    raw = pets_bundle.read_bytes()
    outcomes = []
    for signature, at in zip_headers(raw):
        local = signature == b"PK\x03\x04"
        damaged = bytearray(raw)
        if field == "stream":
            if not local:
                continue
            name_len, extra_len = struct.unpack("<HH", raw[at + 26 : at + 30])
            body = at + 30 + name_len + extra_len
            damaged[body : body + 8] = bytes(b ^ value for b in raw[body : body + 8])
        else:
            offset = {"version": 4, "flags": 6, "method": 8}[field] + (0 if local else 2)
            damaged[offset + at] = value
        path = tmp_path / f"{field}-{at}.model"
        path.write_bytes(bytes(damaged))
        try:
            Classifier.load(path)
            outcomes.append("loaded")
        except BundleError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            outcomes.append("refused")
    assert "refused" in outcomes  # the damage was seen somewhere, so the test reads what it changed


@pytest.mark.parametrize(
    "bad, message",
    [
        (10**400, "idf values must be numbers"),
        ("2.0", "idf values must be numbers"),
        (float("inf"), "not valid JSON"),
        (0.5, "at least 1"),
    ],
)
def test_bad_idf_values_are_refused(pets_bundle, tmp_path, bad, message):
    members = members_of(pets_bundle)
    tfidf = json.loads(members["tfidf.json"])
    tfidf["blocks"][0]["idf"][0] = bad
    members["tfidf.json"] = json.dumps(tfidf).encode()
    with pytest.raises(BundleError, match=message):
        Classifier.load(write(tmp_path / "bad.model", members))


@pytest.mark.parametrize("member", ["head.npz", "vectors.npy"])
def test_an_npy_header_with_unbalanced_brackets_is_refused(pets, tmp_path, member):
    """numpy raises tokenize.TokenError (no SyntaxError) for "'shape': )2, 836)": found by the member fuzzing."""
    pets.keep_vectors = True
    try:
        members = members_of(pets.save(tmp_path / "v.model"))
    finally:
        pets.keep_vectors = False
    raw = members[member]
    if member == "head.npz":
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            inner = {n: zf.read(n) for n in zf.namelist()}
        inner["coef.npy"] = inner["coef.npy"].replace(b"'shape': (", b"'shape': )", 1)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in inner.items():
                zf.writestr(name, data)
        members[member] = buf.getvalue()
    else:
        members[member] = raw.replace(b"'shape': (", b"'shape': )", 1)
    with pytest.raises(BundleError, match="refusing"):
        Classifier.load(write(tmp_path / "bad.model", members))
