"""Hypothesis fuzzing of every reader of outside data: each input is read, or refused with one llmclf error."""

import bz2
import gzip
import json
import lzma

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmclf.classfiles import read_class_file
from llmclf.cli import app
from llmclf.datafiles import iter_labelled, iter_text_rows
from llmclf.errors import LlmclfError
from llmclf.service import create_app
from llmclf.store import read_tag_file

FAST = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
SUFFIXES = [".csv", ".jsonl", ".tsv", ".txt", ".json", ".yaml"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
lines = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda t, label: json.dumps({"text": t, "label": label}).encode(), json_values, json_values),
    st.text(max_size=80).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"]  # UTF-8, 16, 32
records = st.builds(lambda t, label: {"text": t, "label": label}, json_values, json_values)
arrays = st.builds(  # what df.to_json(orient="records") writes, with any items, in any of the encodings
    lambda items, bom: bom + json.dumps(items).encode(),
    st.lists(records | json_values, max_size=6),
    st.sampled_from(BOMS),
)
plain_files = st.one_of(
    st.builds(lambda parts, bom: bom + b"\n".join(parts), st.lists(lines, max_size=8), st.sampled_from(BOMS)), arrays
)
COMPRESSORS = [gzip.compress, bz2.compress, lzma.compress]
MAGIC = [b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"PK\x03\x04", b"\x28\xb5\x2f\xfd"]  # gzip, bz2, xz, zip, zstd
files = st.one_of(
    plain_files,
    st.builds(  # compressed, whole or cut short
        lambda raw, pack, cut: pack(raw)[: -cut or None],
        plain_files,
        st.sampled_from(COMPRESSORS),
        st.integers(0, 30),
    ),
    st.builds(lambda magic, tail: magic + tail, st.sampled_from(MAGIC), st.binary(max_size=60)),
)


@FAST
@given(raw=files, suffix=st.sampled_from(SUFFIXES))
def test_data_file_readers_read_or_raise_one_llmclf_error(tmp_path_factory, raw, suffix):
    path = tmp_path_factory.mktemp("in") / f"data{suffix}"
    path.write_bytes(raw)
    readers = (
        lambda p: list(iter_labelled(p)),
        lambda p: list(iter_labelled(p, text_column="Label", label_column="class")),  # columns named by flags
        lambda p: list(iter_text_rows(p)),
        read_class_file,
        read_tag_file,
    )
    for read in readers:
        try:
            result = read(path)
        except LlmclfError as exc:
            assert "\n" not in str(exc).strip()
            continue
        if read is read_class_file:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


@FAST
@given(raw=files)
def test_class_and_tag_files_on_standard_input_read_or_raise_one_llmclf_error(raw):
    """`--classes -` and `tags import SET -` are read by what they hold (JSON Lines, CSV, YAML, a JSON array)."""
    import io
    from unittest import mock

    for read in (read_class_file, read_tag_file):
        with mock.patch("sys.stdin", io.TextIOWrapper(io.BytesIO(raw))):
            try:
                result = read("-")
            except LlmclfError as exc:
                assert "\n" not in str(exc).strip()
                continue
        if read is read_class_file:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


cells = st.one_of(st.none(), st.text(max_size=20), st.integers(-5, 5), st.binary(max_size=10))
columns = st.dictionaries(
    st.sampled_from(["text", "Text", "label", "LABEL", "class", "other", ""]),
    st.lists(st.lists(cells, max_size=2) | cells, min_size=3, max_size=3),
    max_size=3,
)


@FAST
@given(table=columns, damage=st.binary(max_size=8))
def test_parquet_files_of_any_columns_read_or_raise_one_llmclf_error(tmp_path_factory, table, damage):
    """Parquet rows of any type (strings, numbers, bytes, lists, nulls; any column names), whole or cut short."""
    import pytest

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path_factory.mktemp("in") / "data.parquet"
    try:
        arrow = pa.table({name: pa.array(values) for name, values in table.items()}) if table else pa.table({})
    except (pa.ArrowException, TypeError, ValueError):
        return  # mixed types that pyarrow itself will not put in one column
    pq.write_table(arrow, path)
    raw = path.read_bytes()
    for content in (raw, raw[: len(raw) // 2] + damage):
        path.write_bytes(content)
        for read in (lambda p: list(iter_labelled(p)), lambda p: list(iter_text_rows(p))):
            try:
                read(path)
            except LlmclfError as exc:
                assert "\n" not in str(exc).strip()


@FAST
@given(raw=files, suffix=st.sampled_from([".csv", ".jsonl", ".json", ".txt"]))
def test_classify_on_any_input_file_gives_records_or_one_line(pets_bundle, tmp_path_factory, raw, suffix):
    path = tmp_path_factory.mktemp("in") / f"texts{suffix}"
    path.write_bytes(raw)
    result = CliRunner().invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for line in result.stdout.splitlines():
        record = json.loads(line)
        assert (record["prediction"] is None) == ("error" in record)


@FAST
@given(
    route=st.sampled_from(["/classify", "/tag", "/feedback"]),
    body=json_values,
    raw=st.binary(max_size=100),
    cut=st.integers(0, 30),
    coding=st.sampled_from(["gzip", "deflate", "br", "gzip, gzip", ""]),
)
def test_http_bodies_never_make_a_server_error(pets_bundle, tmp_path_factory, route, body, raw, cut, coding):
    client = _client(pets_bundle, tmp_path_factory)
    packed = gzip.compress(json.dumps(body).encode())[: -cut or None]  # whole or cut short
    encoded = {"content-type": "application/json", "content-encoding": coding}
    for response in (
        client.post(route, json=body),
        client.post(route, content=raw),
        client.post(route, content=packed, headers=encoded),
        client.post(route, content=raw, headers=encoded),
    ):
        assert response.status_code < 500, (route, response.text)
        assert "error" in response.json() or response.status_code == 200


_clients: dict = {}


def _client(bundle, factory):
    if "c" not in _clients:
        _clients["c"] = TestClient(create_app({"pets": bundle}, db=factory.mktemp("svc") / "db.sqlite"))
    return _clients["c"]


@FAST
@given(data=st.data())
def test_damaged_parquet_files_give_records_or_one_line(pets_bundle, tmp_path_factory, data):
    """Bytes of a real Parquet file flipped: a damaged column name raised UnicodeDecodeError (found by a sweep)."""
    import pytest

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("pq")
    table = pa.table({"text": ["woof", "i like milk", None, "meow"], "id": [1, 2, 3, 4]})
    compression = data.draw(st.sampled_from(["none", "snappy", "zstd"]))
    pq.write_table(table, folder / "good.parquet", compression=compression)
    raw = (folder / "good.parquet").read_bytes()
    i = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        raw = raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1 :]
    else:
        raw = raw[:i]
    (folder / "bad.parquet").write_bytes(raw)
    args = ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(folder / "bad.parquet")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for line in result.stdout.splitlines():
        record = json.loads(line)
        assert (record["prediction"] is None) == (record["error"] is not None)


def test_a_parquet_column_name_that_is_not_utf8_is_one_line(pets_bundle, tmp_path):
    import pytest

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["woof"], "id": [1]}), tmp_path / "good.parquet")
    raw = (tmp_path / "good.parquet").read_bytes()
    assert b"text" in raw
    (tmp_path / "bad.parquet").write_bytes(raw.replace(b"text", b"\xffext"))
    args = ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(tmp_path / "bad.parquet")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "not a readable Parquet file" in result.stderr and len(result.stderr.strip().splitlines()) == 1
