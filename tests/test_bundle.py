import hashlib
import io
import json
import pickle
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from llmclf import BundleError, Classifier
from llmclf.bundle import read_bundle


class _Payload:
    """Unpickling this touches a marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _rewrite(src: Path, dst: Path, replace: dict[str, bytes], manifest_edit=None, fix_hashes=True) -> Path:
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members.update(replace)
    manifest = json.loads(members["manifest.json"])
    if fix_hashes:  # an attacker can recompute hashes: the refusal must not depend on them
        for name, meta in manifest["members"].items():
            if name in members:
                meta["sha256"] = hashlib.sha256(members[name]).hexdigest()
    if manifest_edit:
        manifest_edit(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def test_bundle_is_a_zip_with_manifest_arrays_and_examples(pets_bundle):
    with zipfile.ZipFile(pets_bundle) as zf:
        assert set(zf.namelist()) == {"manifest.json", "head.npz", "examples.jsonl", "tfidf.json"}
        manifest = json.loads(zf.read("manifest.json"))
        for name, meta in manifest["members"].items():
            assert hashlib.sha256(zf.read(name)).hexdigest() == meta["sha256"]
        examples = [json.loads(line) for line in zf.read("examples.jsonl").decode().splitlines()]
    assert manifest["format_version"] == 1 and manifest["classes"] == ["cat", "dog"]
    assert manifest["embedder"] == {
        "id": "minilm-l6-v2-int8-matmul",
        "dim": 384,
        "normalized": True,
        "weights_sha256": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    }
    assert manifest["training"]["C"] == 10.0 and manifest["training"]["class_weight"] == "balanced"
    assert {"text": "i like milk", "label": "cat", "source": "user"} in examples


def test_bundle_with_pickled_object_array_is_refused_and_runs_no_code(pets_bundle, tmp_path):
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(marker)
    buf = io.BytesIO()
    np.savez(buf, coef=evil, intercept=np.zeros(2, np.float32), temperature=np.ones(1))
    bad = _rewrite(pets_bundle, tmp_path / "evil.model", {"head.npz": buf.getvalue()})

    with pytest.raises(BundleError, match=r"head\.npz"):
        Classifier.load(bad)
    assert not marker.exists()

    # the payload is live: loading it the unsafe way would have run it
    with zipfile.ZipFile(bad) as zf, np.load(io.BytesIO(zf.read("head.npz")), allow_pickle=True) as npz:
        npz["coef"]
    assert marker.exists()


def test_bundle_whose_member_is_a_raw_pickle_is_refused(pets_bundle, tmp_path):
    marker = tmp_path / "pwned"
    bad = _rewrite(pets_bundle, tmp_path / "evil.model", {"head.npz": pickle.dumps(_Payload(marker))})
    with pytest.raises(BundleError, match=r"refusing head\.npz"):
        Classifier.load(bad)
    assert not marker.exists()


def test_truncated_bundle_is_refused(pets_bundle, tmp_path):
    data = pets_bundle.read_bytes()
    bad = tmp_path / "cut.model"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="corrupt or truncated"):
        read_bundle(bad)


def test_tampered_member_fails_its_checksum(pets_bundle, tmp_path):
    with zipfile.ZipFile(pets_bundle) as zf:
        examples = zf.read("examples.jsonl") + b'{"text": "x", "label": "cat"}\n'
    bad = _rewrite(pets_bundle, tmp_path / "t.model", {"examples.jsonl": examples}, fix_hashes=False)
    with pytest.raises(BundleError, match="sha256"):
        read_bundle(bad)


def test_future_format_version_is_refused(pets_bundle, tmp_path):
    bad = _rewrite(pets_bundle, tmp_path / "f.model", {}, lambda m: m.update(format_version=99))
    with pytest.raises(BundleError, match=r"format 99.*upgrade llmclf"):
        read_bundle(bad)


def test_missing_member_is_refused(pets_bundle, tmp_path):
    with zipfile.ZipFile(pets_bundle) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "examples.jsonl"}
    bad = tmp_path / "m.model"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(BundleError, match=r"examples\.jsonl is missing"):
        read_bundle(bad)


def test_not_a_bundle_and_missing_file(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        read_bundle(tmp_path / "nope.model")
    other = tmp_path / "other.model"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("manifest.json", "{}")
    with pytest.raises(BundleError, match="not an llmclf bundle"):
        read_bundle(other)


@pytest.mark.parametrize("interrupt", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_interrupted_save_leaves_old_bundle_intact(pets, tmp_path, monkeypatch, interrupt):
    path = pets.save(tmp_path / "pets.model")
    before = path.read_bytes()
    calls = {"n": 0}
    real_writestr = zipfile.ZipFile.writestr

    def flaky_writestr(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise interrupt
        return real_writestr(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", flaky_writestr)
    with pytest.raises(type(interrupt)):
        pets.save(path)
    assert calls["n"] == 2
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["pets.model"]  # no temp file left behind
    monkeypatch.undo()
    assert Classifier.load(path).predict(["woof"]).tolist() == ["dog"]


def test_save_writes_an_fsspec_url_as_load_reads_one(pets, tmp_path, monkeypatch):
    """load took s3://... and memory://... URLs, but save("memory://bucket/x.model") wrote ./memory:/bucket/x.model
    here, without a word, as if it had gone to the bucket."""
    fsspec = pytest.importorskip("fsspec")
    monkeypatch.chdir(tmp_path)
    url = "memory://save-test/models/pets.model"
    assert pets.save(url) == url
    assert Classifier.load(url).predict(["woof"]).tolist() == ["dog"]
    assert pets.save(url) == url  # a bundle there is replaced, as on disk
    assert list(tmp_path.iterdir()) == []  # nothing written here
    with fsspec.open("memory://save-test/data.csv", "wb") as fh:
        fh.write(b"text,label\n")
    with pytest.raises(BundleError, match=re.escape("memory://save-test/data.csv exists and is not a model bundle")):
        pets.save("memory://save-test/data.csv")
    with fsspec.open("memory://save-test/data.csv", "rb") as fh:
        assert fh.read() == b"text,label\n"  # the user's file stays
    with pytest.raises(
        BundleError, match=re.escape("cannot write nope://x/y.model: ValueError: Protocol not known: nope")
    ):
        pets.save("nope://x/y.model")
    assert pets.save(f"file://{tmp_path}/local.model") == tmp_path / "local.model"


def test_save_writes_a_binary_file_object_as_load_reads_one_and_refuses_what_is_no_target(pets, tmp_path, monkeypatch):
    """load took bytes and file objects, but save(io.BytesIO()) wrote a file named "<_io.BytesIO object at 0x..>"
    here, and save(None) one named "None", each without a word."""
    from llmclf import InputError

    monkeypatch.chdir(tmp_path)
    buffer = io.BytesIO()
    assert pets.save(buffer) is buffer
    assert Classifier.load(buffer.getvalue()).predict(["woof"]).tolist() == ["dog"]
    with open(tmp_path / "opened.model", "wb") as fh:
        pets.save(fh)
    assert Classifier.load(tmp_path / "opened.model").predict(["meow"]).tolist() == ["cat"]
    for target in (None, 5, b"pets.model"):
        with pytest.raises(
            InputError,
            match=f"^a bundle is saved to a path, an fsspec URL or a binary file object, not {type(target).__name__}$",
        ):
            pets.save(target)
    with open(tmp_path / "text.model", "w") as fh, pytest.raises(InputError, match="open the file with mode 'wb'"):
        pets.save(fh)
    for source in (None, 5):
        with pytest.raises(InputError, match=r"^a bundle is a path, bytes, a binary file object or an fsspec URL"):
            Classifier.load(source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opened.model", "text.model"]
    assert (tmp_path / "text.model").read_bytes() == b""


def test_unwritable_destination_is_a_bundle_error_naming_the_path(pets, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(BundleError, match=r"cannot write .*not-a-dir/pets\.model"):
        pets.save(blocker / "pets.model")
    assert blocker.read_text() == "a file where a folder should be"


def test_save_keeps_the_old_files_mode_and_honours_the_umask(pets, tmp_path):
    import os
    import stat

    path = pets.save(tmp_path / "shared.model")
    old = os.umask(0o022)
    try:
        fresh = pets.save(tmp_path / "fresh.model")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        path.chmod(0o640)
        pets.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_temp_files_of_a_killed_save_are_removed_on_the_next_save(pets, tmp_path):
    import subprocess
    import sys

    path = pets.save(tmp_path / "pets.model")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f".pets.model.{dead.stdout.strip()}.abc123.tmp"
    left.write_bytes(b"half a bundle")
    pets.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets.model"]


def test_sigterm_mid_save_leaves_no_temp_file(pets_bundle, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, time, zipfile\n"
        "from llmclf.cli.app import main\n"
        "real = zipfile.ZipFile.writestr\n"
        "def slow(self, *a, **k):\n"
        "    print('writing', flush=True); time.sleep(30); return real(self, *a, **k)\n"
        "zipfile.ZipFile.writestr = slow\n"
        f"sys.argv = ['llmclf', 'retrain', '--load', {str(pets_bundle)!r}, '--save', {str(tmp_path / 'out.model')!r},"
        f" '--db', {str(tmp_path / 'db.sqlite')!r}]\n"
        "main()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_what_save_writes_load_reads(tmp_path, monkeypatch):
    """A 1.6 MB training text, or many copies of one long text, saved a bundle that load refused ("line over
    1048576 characters", "compressed 633x: refused"): the model was gone though the save had said it was done."""
    import random
    import string

    import llmclf.bundle

    rng = random.Random(0)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    document = " ".join(rng.choice(words) for _ in range(250_000))  # 1.6 MB that deflates like prose
    for long_text in (document, "word " * 300_000):
        clf = Classifier().fit(["a cat " + long_text, "a dog", "the kitten", "the puppy"], ["cat", "dog", "cat", "dog"])
        clf.save(tmp_path / "long.model")
        loaded = Classifier.load(tmp_path / "long.model")
        np.testing.assert_allclose(loaded.predict_proba(["a cat"]), clf.predict_proba(["a cat"]), atol=1e-6)
    before = (tmp_path / "long.model").read_bytes()
    monkeypatch.setattr(llmclf.bundle, "MAX_MANIFEST_BYTES", 64)  # any limit the reader has and the writer misses
    with pytest.raises(BundleError, match=r"cannot save .*long\.model: it would not load back \(.*manifest"):
        clf.save(tmp_path / "long.model")
    assert (tmp_path / "long.model").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["long.model"]  # no temporary file left


def test_class_names_and_descriptions_past_the_manifests_limits_are_refused_before_training():
    with pytest.raises(ValueError, match="a class name is 1001 characters long; at most 1000"):
        Classifier().fit(["a", "b"], ["x" * 1001, "y"])
    with pytest.raises(ValueError, match="is 100001 characters long; at most 100000"):
        Classifier().add_class("a", "d" * 100_001)


def test_a_bundle_keeps_its_newest_history_only(pets, tmp_path, monkeypatch):
    """Each retrain added an entry for good: enough of them outgrew the manifest, and the model could not be saved."""
    import llmclf.classifier

    monkeypatch.setattr(llmclf.classifier, "KEEP_HISTORY", 3)
    clf = Classifier.load(pets.save(tmp_path / "h.model"))
    for i in range(5):
        clf.history.append({"at": f"2026-01-0{i + 1}", "action": "retrain"})
    clf.save(tmp_path / "h.model")
    assert [h["at"] for h in Classifier.load(tmp_path / "h.model").history] == [
        "2026-01-03",
        "2026-01-04",
        "2026-01-05",
    ]


def test_save_and_load_take_a_path_under_the_home_folder(pets, tmp_path, monkeypatch):
    """Classifier.save("~/m.model") wrote ./~/m.model; load("~/m.model") said the file was not found."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    pets.save("~/m.model")
    assert (tmp_path / "home" / "m.model").is_file() and not (tmp_path / "~").exists()
    assert Classifier.load("~/m.model").classes_.tolist() == pets.classes_.tolist()


def test_a_save_path_ending_in_a_slash_is_refused_not_written_as_a_file(pets, tmp_path):
    """save("models/") wrote a file named models, where a folder was meant (pathlib drops the slash)."""
    with pytest.raises(BundleError, match=r"a bundle is a file; name it, as in .*models/pets\.model"):
        pets.save(f"{tmp_path}/models/")
    assert not (tmp_path / "models").exists()


def test_a_bundle_through_a_pipe_loads_and_a_cut_one_is_one_line(pets_bundle, tmp_path):
    """A zip is read by seeking, which a pipe cannot do: `--load <(curl ...)` called a good bundle "corrupt or
    truncated". A path that is not a plain file is now read whole first, as a stream given to load is."""
    llmclf = f"{shlex.quote(sys.executable)} -m llmclf"
    bundle = shlex.quote(str(pets_bundle))
    run_id = json.loads(_sh(f"{llmclf} classify --load {bundle} squeak").stdout)["run_id"]
    _sh(f"{llmclf} feedback {run_id} --correction cat")
    saved = shlex.quote(str(tmp_path / "retrained.model"))
    runs = {
        "substituted": f"{llmclf} classify --no-log --load <(cat {bundle}) woof",
        "stdin": f"cat {bundle} | {llmclf} info --load /dev/stdin",
        "cut": f"{llmclf} classify --no-log --load <(head -c 300 {bundle}) woof",
        "retrain": f"{llmclf} retrain --load <(cat {bundle})",  # nowhere to write it back: said before the refit
        "retrain, saved": f"{llmclf} retrain --load <(cat {bundle}) --save {saved}",
    }
    done = {name: _sh(cmd) for name, cmd in runs.items()}
    assert done["substituted"].returncode == 0 and json.loads(done["substituted"].stdout)["prediction"] == "dog"
    assert done["stdin"].returncode == 0 and "cat" in done["stdin"].stdout and "dog" in done["stdin"].stdout
    assert done["cut"].returncode == 2 and done["cut"].stdout == ""
    assert done["cut"].stderr.count("\n") == 1 and "is not a valid llmclf bundle" in done["cut"].stderr
    assert done["retrain"].returncode == 2 and "give --save" in done["retrain"].stderr
    assert done["retrain, saved"].returncode == 0 and "1 new" in done["retrain, saved"].stdout
    assert [e.text for e in Classifier.load(tmp_path / "retrained.model").examples if e.label == "cat"][-1] == "squeak"


def _sh(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, check=False)
