"""`llmclf retrain` while `llmclf serve` runs: the service answered with the old head until it was restarted."""

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from llmclf import Classifier
from llmclf.cli import app

from .served import free_port, service_log, stop, wait_healthy

THREE = ["--class", "cat: Cats meow.", "--class", "dog: Dogs bark.", "--class", "bird: Birds sing and fly."]


def classes(url: str) -> list[str]:
    return httpx.get(f"{url}/models", timeout=10).json()[0]["classes"]


def wait_for(check, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_bundle_saved_over_is_served_and_a_broken_one_is_not(pets_bundle, tmp_path):
    model = tmp_path / "pets.model"
    shutil.copy(pets_bundle, model)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["serve", "--port", str(port), "--load", str(model), "--reload-every", "0.2", "--db", str(tmp_path / "d")]
    with open(tmp_path / "stderr.txt", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmclf", *args], env={**os.environ, "LLMCLF_HOME": str(tmp_path)}, stderr=log
        )
        try:
            wait_healthy(url)
            assert sorted(classes(url)) == ["cat", "dog"]
            first_id = httpx.get(f"{url}/models", timeout=10).json()[0]["model_id"]
            assert first_id == Classifier.load(model).model_id
            trained = CliRunner().invoke(app, ["train", *THREE, "--save", str(model)])  # over it, as retrain saves
            assert trained.exit_code == 0, trained.output
            assert wait_for(lambda: sorted(classes(url)) == ["bird", "cat", "dog"])
            answer = httpx.post(f"{url}/classify", json={"texts": ["a sparrow sings"]}, timeout=30).json()
            assert set(answer["results"][0]["probabilities"]) == {"bird", "cat", "dog"}, answer
            assert httpx.get(f"{url}/models", timeout=10).json()[0]["model_id"] == Classifier.load(model).model_id

            junk = tmp_path / "junk"
            junk.write_bytes(b"not a bundle")
            os.replace(junk, model)  # a stranger's file in its place: kept serving the last good one
            assert wait_for(lambda: b"cannot be loaded" in (tmp_path / "stderr.txt").read_bytes(), 30)
            assert sorted(classes(url)) == ["bird", "cat", "dog"]
            ok = httpx.post(f"{url}/classify", json={"texts": ["woof"]}, timeout=30)
            assert ok.status_code == 200 and ok.json()["results"][0]["prediction"] == "dog"

            shutil.copy(pets_bundle, model)  # a good one again
            assert wait_for(lambda: sorted(classes(url)) == ["cat", "dog"])
        finally:
            stop(proc)
    said = (tmp_path / "stderr.txt").read_text()
    assert said.count("cannot be loaded") == 1, said  # once for the broken file, not at every look
    assert said.count("model pets: reloaded") == 2, said  # the three-class bundle, then the good one again
    assert "Traceback" not in said


def test_a_bundle_that_failed_to_load_for_the_moment_is_tried_again(pets_bundle, tmp_path, monkeypatch):
    import asyncio
    import errno

    from llmclf.errors import BundleError
    from llmclf.service import reload

    model = tmp_path / "pets.model"
    shutil.copy(pets_bundle, model)
    watcher = reload.BundleWatcher({"pets": model}, retry_failed=0.0)
    first = watcher.loaded["pets"].model_id
    trained = CliRunner().invoke(app, ["train", *THREE, "--save", str(model)])
    assert trained.exit_code == 0, trained.output
    really_ready = reload.ready

    def out_of_descriptors(*_args):
        raise BundleError(f"cannot read {model}: {os.strerror(errno.EMFILE)}")

    monkeypatch.setattr(reload, "ready", out_of_descriptors)
    with service_log() as records:
        asyncio.run(watcher.check())
        asyncio.run(watcher.check())  # the same failure again: not said again
    said = [r.getMessage() for r in records]
    assert watcher.loaded["pets"].model_id == first
    assert len(said) == 1 and "Too many open files" in said[0], said
    monkeypatch.setattr(reload, "ready", really_ready)
    asyncio.run(watcher.check())  # the file has not changed since; it is loaded now all the same
    assert watcher.loaded["pets"].model_id == Classifier.load(model).model_id != first

    waiting = reload.BundleWatcher({"pets": model})  # the default: a failed file waits RETRY_FAILED seconds
    trained = CliRunner().invoke(app, ["train", "--class", "a: A.", "--class", "b: B.", "--save", str(model)])
    assert trained.exit_code == 0, trained.output
    monkeypatch.setattr(reload, "ready", out_of_descriptors)
    asyncio.run(waiting.check())
    monkeypatch.setattr(reload, "ready", really_ready)
    asyncio.run(waiting.check())
    assert sorted(waiting.loaded["pets"].class_names) == ["bird", "cat", "dog"]


def test_a_bundle_that_cannot_be_opened_is_not_called_corrupt(pets_bundle, monkeypatch):
    import errno
    import zipfile

    from llmclf.errors import BundleError

    def refused(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(zipfile, "ZipFile", refused)
    with pytest.raises(BundleError) as caught:
        Classifier.load(pets_bundle)
    assert str(caught.value) == f"cannot read {pets_bundle}: Permission denied"
