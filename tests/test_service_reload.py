"""`llmclf retrain` while `llmclf serve` runs: the service answered with the old head until it was restarted."""

import os
import shutil
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from llmclf import Classifier
from llmclf.cli import app

from .served import free_port, stop, wait_healthy

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
