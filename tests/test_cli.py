import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmclf import Classifier
from llmclf.cli import app
from llmclf.errors import BundleError, InputError
from llmclf.tagging import check_tags

runner = CliRunner()
PETS = ["--class", "cat: Cats meow and purr.", "--class", "dog: Dogs bark and fetch."]
CAT = "cat: Cats are independent, self-grooming, meow and purr."
DOG = "dog: Dogs are loyal pack animals that bark and play fetch."


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_train_then_classify_through_the_runner(tmp_path):
    model = tmp_path / "models" / "pets.model"
    result = run(
        "train",
        "--class",
        CAT,
        "--class",
        DOG,
        "--train",
        "cat: i like milk",
        "--train",
        "dog: i like bones",
        "--save",
        model,
    )
    assert result.exit_code == 0, result.output
    assert "no LLM configured" in result.stderr
    assert model.exists() and f"saved {model}" in result.stdout.replace("\n", "")

    result = run("classify", "--load", model, "woof", "meow")
    assert result.exit_code == 0, result.output
    records = jsonl(result.stdout)
    assert [r["prediction"] for r in records] == ["dog", "cat"]
    for r in records:
        assert set(r) == {"text", "prediction", "probabilities", "run_id"}
        assert uuid.UUID(r["run_id"]).version == 7
        assert set(r["probabilities"]) == {"cat", "dog"}
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-4


def test_classify_reads_data_flags_stdin_and_files(pets_bundle, tmp_path):
    result = run("classify", "--load", pets_bundle, "--data", "woof", "-", input="meow\n\npurr purr\n")
    assert result.exit_code == 0, result.output
    assert [r["text"] for r in jsonl(result.stdout)] == ["woof", "meow", "purr purr"]

    csv_file = tmp_path / "in.csv"
    csv_file.write_text('id,text\n1,"the dog barked, loudly"\n2,meow\n', encoding="utf-8")
    jl_file = tmp_path / "in.jsonl"
    jl_file.write_text('{"text": "woof woof"}\n', encoding="utf-8")
    result = run("classify", "--load", pets_bundle, "--input", csv_file, "--input", jl_file, "--top-n", "1")
    assert result.exit_code == 0, result.output
    records = jsonl(result.stdout)
    assert [r["text"] for r in records] == ["the dog barked, loudly", "meow", "woof woof"]
    assert [r["prediction"] for r in records] == ["dog", "cat", "dog"]
    assert all(len(r["probabilities"]) == 1 for r in records)

    dashed = run("classify", "--load", pets_bundle, "--input", csv_file, "--input", "-", input="purr purr\n")
    assert dashed.exit_code == 0, dashed.output  # was "file not found: -"
    assert [r["text"] for r in jsonl(dashed.stdout)] == ["the dog barked, loudly", "meow", "purr purr"]
    db = tmp_path / "t.db"
    for tag_id, name in (("1", "dog"), ("2", "cat")):
        assert run("tags", "add", "pets", "--id", tag_id, "--name", name, "--db", db).exit_code == 0
    tagged = run("tag", "--set", "pets", "--db", db, "--no-log", "-i", "-", input="woof woof\n")
    assert tagged.exit_code == 0, tagged.output
    assert [r["text"] for r in jsonl(tagged.stdout)] == ["woof woof"]


def test_an_argument_that_names_a_file_is_classified_as_text_with_a_notice(pets_bundle, tmp_path, monkeypatch):
    """`classify --load m texts.txt` classified the file name, without a word that --input reads the file."""
    monkeypatch.chdir(tmp_path)
    Path("texts.txt").write_text("woof\n", encoding="utf-8")
    result = run("classify", "--load", pets_bundle, "--no-log", "texts.txt", "woof", "x" * 5000)
    assert [r["text"] for r in jsonl(result.stdout)] == ["texts.txt", "woof", "x" * 5000]
    assert result.stderr.count("notice:") == 1 and "use --input 'texts.txt'" in result.stderr


def test_classify_streams_in_batches(pets_bundle, tmp_path):
    texts = tmp_path / "many.txt"
    texts.write_text("".join(f"woof number {i}\n" for i in range(25)), encoding="utf-8")
    result = run("classify", "--load", pets_bundle, "--input", texts, "--batch-size", "7")
    assert result.exit_code == 0, result.output
    assert len(jsonl(result.stdout)) == 25


def test_classify_threshold_abstains(pets_bundle):
    result = run("classify", "--load", pets_bundle, "--threshold", "0.9999", "woof")
    assert result.exit_code == 0
    assert jsonl(result.stdout)[0]["prediction"] is None


def test_llm_flags_reach_the_endpoint_and_a_half_set_env_only_fails_where_an_llm_is_needed(pets_bundle):
    half = {"LLMCLF_LLM_MODEL": "some-model", "OPENAI_BASE_URL": None, "OPENAI_API_KEY": None}
    plain = runner.invoke(app, ["classify", "--load", str(pets_bundle), "woof"], env=half)
    assert plain.exit_code == 0, plain.output  # no cascade: the LLM settings are never resolved
    cascade = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--cascade-below", "0.5", "woof"], env=half)
    assert cascade.exit_code == 2 and "no endpoint" in cascade.stderr
    bad_mode = runner.invoke(
        app,
        ["train", "--class", CAT, "--class", DOG, "--llm-base-url", "http://127.0.0.1:9/v1", "--llm-mode", "xml"],
        env={"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None, "LLMCLF_LLM_MODEL": None},
    )
    assert bad_mode.exit_code == 2 and "unknown LLM mode 'xml'" in bad_mode.stderr


def test_train_from_class_file_and_data_file(tmp_path):
    classes = tmp_path / "classes.yaml"
    classes.write_text("cat: Cats meow and purr.\ndog: Dogs bark and fetch.\n", encoding="utf-8")
    data = tmp_path / "data.csv"
    data.write_text("text,label\ni like milk,cat\ni like bones,dog\ntweet tweet,bird\n", encoding="utf-8")
    model = tmp_path / "m.model"
    result = run("train", "--classes", classes, "--data", data, "--save", model)
    assert result.exit_code == 0, result.output
    assert "1 class(es) have no description and are learned from their examples only: bird (1)" in result.stderr
    clf = Classifier.load(model)
    assert list(clf.classes_) == ["bird", "cat", "dog"]
    assert clf.descriptions["bird"] is None

    result = run("info", model)
    assert result.exit_code == 0 and "bird" in result.stdout and "minilm-l6-v2-int8-matmul" in result.stdout
    manifest = json.loads(run("info", model, "--json").stdout)
    assert manifest["example_counts"]["bird"] == {"user": 1, "description": 3}


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--class", "cat Cats meow", "--class", DOG], "no colon found"),
        (["train", "--class", ": Cats meow", "--class", DOG], "empty class name"),
        (["train", "--class", "cat:", "--class", DOG], "empty description"),
        (["train", "--class", CAT, "--class", "cat: again"], "class 'cat' is given twice"),
        (["train", "--class", CAT], "need at least two classes, got 1"),
        (["train", "--class", CAT, "--train", "dog"], "no colon found"),
        (["train", "--class", CAT, "--class", DOG, "--data", "missing.csv"], "file not found: missing.csv"),
        (["classify", "--load", "{bundle}", ""], "text 1 is empty"),
        (["classify", "--load", "{bundle}", "woof", "   "], "text 2 is empty"),
        (["classify", "--load", "{bundle}"], "no texts to classify"),
        (["classify", "--load", "missing.model", "woof"], "model bundle not found: missing.model"),
        (["classify", "--load", "{corrupt}", "woof"], "corrupt or truncated"),
        (["classify", "--load", "{bundle}", "--input", "{folder}"], "is a folder, not a file"),
        (["classify", "--load", "{bundle}", "caf\udce9"], "text 1 is not UTF-8"),
        (["train", "--class", "a\udcff: x", "--class", DOG], "is not UTF-8 text"),
        (["train", "--classes", "{bomb}", "--class", DOG], "aliases (*name) are not allowed"),
        (["info", "{corrupt}"], "corrupt or truncated"),
        (["train", "--data", "{ansi}"], "is not UTF-8 text (bad byte at offset 14); save it as UTF-8 (in Excel"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, pets_bundle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corrupt = tmp_path / "corrupt.model"
    corrupt.write_bytes(pets_bundle.read_bytes()[:300])
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    emptyrow = tmp_path / "emptyrow.jsonl"
    emptyrow.write_text('{"text": "woof"}\n{"text": ""}\n', encoding="utf-8")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text('a: &a ["lol", "lol"]\nb: &b [*a, *a]\nc: [*b, *b]\n', encoding="utf-8")
    ansi = tmp_path / "ansi.csv"  # Excel's plain "CSV (Comma delimited)" on Windows: the ANSI code page
    ansi.write_bytes("text,label\ncaf\xe9 au lait,cat\nwoof,dog\n".encode("cp1252"))
    paths = {
        "ansi": ansi,
        "bundle": pets_bundle,
        "corrupt": corrupt,
        "latin1": latin1,
        "emptyrow": emptyrow,
        "folder": tmp_path,
        "bomb": bomb,
    }
    args = [a.format(**paths) for a in args]
    result = runner.invoke(app, args, input="")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1


def test_unreadable_rows_get_error_records_and_the_rest_are_classified(pets_bundle, tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(
        b'{"text": "woof"}\n{"text": ""}\nnot json\n{"Text": "meow"}\n{"text": "caf\xe9"}\n{"body": "x"}\n{"text": "woof woof"}\n'
    )
    result = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(mixed)])
    assert result.exit_code == 1, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["prediction"] for r in records] == ["dog", None, None, "cat", None, None, "dog"]
    errors = [r["error"] for r in records if r["prediction"] is None]
    assert errors[0].endswith("mixed.jsonl:2: text is empty") and "not valid JSON" in errors[1]
    assert "not UTF-8" in errors[2] and "found: 'body'" in errors[3]
    assert "4 of 7 input row(s) could not be read" in result.stderr
    stdin = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log"], input=b"woof\ncaf\xe9\nmeow\n")
    assert stdin.exit_code == 1
    assert [json.loads(x)["prediction"] for x in stdin.stdout.splitlines()] == ["dog", None, "cat"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_json_files_are_not_json(pets_bundle, tmp_path, constant):
    """Python's parser takes them: a label NaN became the class 'nan', a text NaN was classified as 'nan'."""
    data = tmp_path / "data.jsonl"
    data.write_text(f'{{"text": "a cat", "label": "cat"}}\n{{"text": "woof", "label": {constant}}}\n')
    trained = run("train", "--data", data, "--class", DOG, "--save", tmp_path / "m.model")
    assert trained.exit_code == 2 and f"data.jsonl:2: not valid JSON ({constant} is not JSON)" in trained.output
    assert not (tmp_path / "m.model").exists()
    texts = tmp_path / "texts.jsonl"
    texts.write_text(f'{{"text": {constant}}}\n{{"text": "meow"}}\n')
    classified = run("classify", "--load", pets_bundle, "--no-log", "--input", texts)
    records = jsonl(classified.stdout)
    assert records[0]["text"] is None and f"{constant} is not JSON" in records[0]["error"]
    assert records[1]["prediction"] == "cat"
    classes = tmp_path / "classes.json"
    classes.write_text(f'{{"cat": "Cats meow.", "dog": {constant}}}')
    refused = run("train", "--classes", classes, "--save", tmp_path / "m.model")
    assert refused.exit_code == 2 and f"({constant} is not JSON)" in refused.output
    tags = tmp_path / "tags.json"
    tags.write_text(f'[{{"tag_id": 1, "name": "a"}}, {{"tag_id": {constant}, "name": "b"}}]')
    imported = run("tags", "import", "s", tags, "--db", tmp_path / "t.db")
    assert imported.exit_code == 2 and f"not valid JSON ({constant} is not JSON)" in imported.output


def test_excel_csv_with_bom_and_capitalised_headers(pets_bundle, tmp_path):
    data = tmp_path / "excel.csv"
    data.write_bytes("Text,Label\r\nwoof,dog\r\nmeow,cat\r\n".encode("utf-8-sig"))
    classified = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(data)])
    assert classified.exit_code == 0, classified.output
    assert [json.loads(x)["prediction"] for x in classified.stdout.splitlines()] == ["dog", "cat"]
    model = tmp_path / "m.model"
    assert runner.invoke(app, ["train", "--data", str(data), "--save", str(model)]).exit_code == 0
    assert list(Classifier.load(model).classes_) == ["cat", "dog"]
    semicolons = tmp_path / "semicolons.csv"  # Excel where the comma is the decimal mark
    semicolons.write_bytes("Text;Label\r\nwoof, woof;dog\r\nmeow;cat\r\n".encode("utf-8-sig"))
    classified = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(semicolons)])
    assert [json.loads(x)["text"] for x in classified.stdout.splitlines()] == ["woof, woof", "meow"], classified.output
    assert runner.invoke(app, ["train", "--data", str(semicolons), "--save", str(model)]).exit_code == 0
    assert list(Classifier.load(model).classes_) == ["cat", "dog"]
    named = tmp_path / "named.csv"  # Excel's "sep=;" line: it was taken for the header ("no text column")
    named.write_bytes("sep=;\r\nText;Label\r\nwoof, woof;dog\r\nmeow;cat\r\n".encode("utf-8-sig"))
    classified = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(named)])
    assert [json.loads(x)["text"] for x in classified.stdout.splitlines()] == ["woof, woof", "meow"], classified.output
    assert runner.invoke(app, ["train", "--data", str(named), "--save", str(model)]).exit_code == 0
    assert list(Classifier.load(model).classes_) == ["cat", "dog"]
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Body,Kind\nwoof,dog\nmeow,cat\n", encoding="utf-8")
    failed = runner.invoke(app, ["train", "--data", str(wrong), "--save", str(model)])
    assert failed.exit_code == 2 and "found: 'body', 'kind'" in failed.stderr


def test_a_json_number_past_what_python_converts_is_a_line_error_not_an_internal_one(pets_bundle, tmp_path):
    """A label of 5,000 digits was "internal error: ValueError: Exceeds the limit (4300 digits) for integer string
    conversion"; a label of 1e400 became the class 'inf'."""
    for number, said in [("1" * 5000, "a number of 5000 digits is too long"), ("1e400", "1e400 is out of range")]:
        data = tmp_path / "data.jsonl"
        data.write_text(f'{{"text": "woof", "label": {number}}}\n{{"text": "meow", "label": "cat"}}\n')
        trained = run("train", "--data", data, "--save", tmp_path / "m.model")
        assert trained.exit_code == 2 and trained.stderr.strip() == f"error: {data}:1: not valid JSON ({said})"
        texts = tmp_path / "texts.jsonl"
        texts.write_text(f'{{"text": "woof", "id": {number}}}\n{{"text": "meow", "id": 2}}\n')
        classified = run("classify", "--load", pets_bundle, "--no-log", "--input", texts, "--id-column", "id")
        records = jsonl(classified.stdout)
        assert classified.exit_code == 1 and records[0]["error"] == f"{texts}:1: not valid JSON ({said})"
        assert records[1]["prediction"] == "cat"
    tags = tmp_path / "tags.json"
    tags.write_text(f'[{{"id": {"1" * 5000}, "name": "phone"}}]')
    imported = run("tags", "import", "contact", tags, "--db", tmp_path / "db.sqlite")
    assert imported.exit_code == 2 and "a number of 5000 digits is too long" in imported.stderr


def test_a_csv_field_longer_than_csvs_default_limit_is_read(pets_bundle, tmp_path):
    """One 150,000-character document made the CSV "malformed (field larger than field limit (131072))": train and
    eval refused the file, and classify stopped there, losing the rows after it. JSON Lines had no such limit."""
    long = "the dog barked at the mailman " * 5000
    data = tmp_path / "long.csv"
    data.write_text(f'text,label\n"{long}",dog\nmeow,cat\n')
    classified = run("classify", "--load", pets_bundle, "--no-log", "--input", data)
    assert classified.exit_code == 0, classified.output
    assert [r["prediction"] for r in jsonl(classified.stdout)] == ["dog", "cat"]
    trained = run("train", "--data", data, "--save", tmp_path / "m.model", "--json")
    assert trained.exit_code == 0 and json.loads(trained.stdout)["counts"]["dog"]["user"] == 1, trained.output


@pytest.mark.parametrize("compress", ["gzip", "bz2", "lzma"])
def test_gzip_bzip2_and_xz_files_are_read_through(pets_bundle, tmp_path, compress):
    """data.jsonl.gz (as pandas and datasets write it) was taken for plain text, and every line of any compressed
    file was an error record "not UTF-8 text"; a cut-short one must be a one-line error, not an EOFError."""
    import importlib

    module = importlib.import_module(compress)
    suffix = {"gzip": ".gz", "bz2": ".bz2", "lzma": ".xz"}[compress]
    packed = lambda name, text: (tmp_path / (name + suffix)).write_bytes(module.compress(text.encode()))  # noqa: E731
    packed("texts.jsonl", '{"text": "woof woof"}\n{"text": "meow"}\n')
    packed("texts.txt", "woof woof\nmeow\n")
    for name in ("texts.jsonl", "texts.txt"):
        classified = run("classify", "--load", pets_bundle, "--no-log", "--input", tmp_path / (name + suffix))
        assert classified.exit_code == 0, classified.output
        assert [(r["text"], r["prediction"]) for r in jsonl(classified.stdout)] == [
            ("woof woof", "dog"),
            ("meow", "cat"),
        ]
    piped = run(
        "classify", "--load", pets_bundle, "--no-log", "-", input=(tmp_path / f"texts.txt{suffix}").read_bytes()
    )
    assert [r["prediction"] for r in jsonl(piped.stdout)] == ["dog", "cat"], piped.output
    packed("data.csv", "text,label\ndogs bark,dog\ncats meow,cat\n")
    packed("classes.json", '{"cat": "Cats purr.", "dog": "Dogs bark."}')
    for args in (["--data", tmp_path / f"data.csv{suffix}"], ["--classes", tmp_path / f"classes.json{suffix}"]):
        trained = run("train", *args, "--save", tmp_path / "m.model")
        assert trained.exit_code == 0, trained.output
        assert sorted(Classifier.load(tmp_path / "m.model").classes_) == ["cat", "dog"]
    cut = tmp_path / f"cut.csv{suffix}"
    cut.write_bytes((tmp_path / f"data.csv{suffix}").read_bytes()[:-6])
    failed = run("train", "--data", cut, "--save", tmp_path / "m.model")
    assert failed.exit_code == 2 and re.fullmatch(
        rf"error: {re.escape(str(cut))}: its \w+ data is damaged or cut short \(.+\)\n", failed.stderr
    ), failed.stderr


def test_a_zip_archive_or_zstd_file_is_named_not_read_line_by_line(pets_bundle, tmp_path):
    """An Excel workbook (a zip archive) given as --input made one "not UTF-8 text" error record per line."""
    import zipfile

    book = tmp_path / "book.zip"  # a workbook named .xlsx says so before it is opened (see below)
    with zipfile.ZipFile(book, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    zstd = tmp_path / "texts.txt.zst"
    zstd.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
    for path, said in (
        (book, "is a zip archive (an Excel workbook is one), not text: save it as CSV UTF-8 or JSON Lines"),
        (zstd, "is compressed with zstd: decompress it first (zstd -d), or use gzip"),
    ):
        classified = run("classify", "--load", pets_bundle, "--no-log", "--input", path)
        assert classified.exit_code == 2 and classified.stdout == "" and classified.stderr == f"error: {path} {said}\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_with_a_byte_order_mark_are_read(pets_bundle, tmp_path, encoding):
    """Excel's "Unicode Text", Notepad's "Unicode" and Windows PowerShell's `>` write UTF-16: its lines were
    classified as texts like "\x00w\x00o\x00o\x00f", each with a prediction, and a CSV was refused."""
    bom = {"utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    write = lambda path, text: path.write_bytes(bom + text.encode(encoding))  # noqa: E731
    texts = tmp_path / "texts.txt"
    write(texts, "woof woof\r\nmeow\r\n")
    classified = run("classify", "--load", pets_bundle, "--no-log", "--input", texts)
    assert classified.exit_code == 0, classified.output
    assert [(r["text"], r["prediction"]) for r in jsonl(classified.stdout)] == [("woof woof", "dog"), ("meow", "cat")]
    piped = run("classify", "--load", pets_bundle, "--no-log", "-", input=texts.read_bytes())  # it said NUL, per line
    assert [(r["text"], r["prediction"]) for r in jsonl(piped.stdout)] == [("woof woof", "dog"), ("meow", "cat")]
    data, tsv, classes = tmp_path / "data.csv", tmp_path / "data.tsv", tmp_path / "classes.yaml"
    write(data, "Text,Label\r\ndogs bark,dog\r\ncats meow,cat\r\n")
    write(tsv, "text\tlabel\r\ndogs bark\tdog\r\ncats meow\tcat\r\n")
    write(classes, "cat: Cats purr.\ndog: Dogs bark.\n")
    for args in (["--data", data], ["--data", tsv], ["--classes", classes]):
        trained = run("train", *args, "--save", tmp_path / "m.model")
        assert trained.exit_code == 0, trained.output
        assert sorted(Classifier.load(tmp_path / "m.model").classes_) == ["cat", "dog"]


def test_a_line_that_is_not_utf16_in_a_utf16_file_names_utf16(pets_bundle, tmp_path):
    """A bad line of a UTF-16 file or stdin said 'not UTF-8 text', which sent the user to the wrong encoding."""
    lone_surrogate = "\ud800a\n".encode("utf-16-le", "surrogatepass")
    texts = tmp_path / "texts.txt"
    texts.write_bytes("woof\n".encode("utf-16") + lone_surrogate + "meow\n".encode("utf-16-le"))
    for args, source in ((["--input", texts], f"{texts}:2"), (["-"], "standard input line 2")):
        records = jsonl(run("classify", "--load", pets_bundle, "--no-log", *args, input=texts.read_bytes()).stdout)
        assert [r["prediction"] for r in records] == ["dog", None, "cat"]
        assert records[1]["error"] == f"{source}: not UTF-16 text"


def test_texts_of_only_invisible_characters_or_with_nul_are_not_classified(pets_bundle, tmp_path):
    """'\x00' and a zero-width space passed the empty check (str.strip keeps them), the tokenizer dropped them, and
    the model gave the empty text a class ('cat 0.54'); UTF-16 without its byte-order mark was classified as
    'w\x00o\x00o\x00f\x00'."""
    no_bom = tmp_path / "texts.txt"
    no_bom.write_bytes("woof\nmeow\n".encode("utf-16-le"))
    records = jsonl(run("classify", "--load", pets_bundle, "--no-log", "--input", no_bom).stdout)
    assert records and all(r["prediction"] is None and "NUL" in r["error"] for r in records)
    piped = run("classify", "--load", pets_bundle, "--no-log", input="woof\n\u200b\u200d\nwo\x00of\n\x00\n")
    assert [r["prediction"] for r in jsonl(piped.stdout)] == ["dog", None, None, None]
    assert jsonl(piped.stdout)[1]["error"].endswith("line 2: text is empty")
    argument = run("classify", "--load", pets_bundle, "--no-log", "woof", "\u200b")
    assert argument.exit_code == 2 and "text 2 is empty" in argument.output
    data = tmp_path / "data.csv"
    data.write_text("text,label\nwoof,dog\n\u2060\u200b,cat\n")
    trained = run("train", "--data", data, "--save", tmp_path / "m.model")
    assert trained.exit_code == 2 and "data.csv:3: text is empty" in trained.output
    data.write_text("text,label\nwoof,dog\nmeow,\u200b\n")
    trained = run("train", "--data", data, "--save", tmp_path / "m.model")
    assert trained.exit_code == 2 and "data.csv:3: label is empty" in trained.output
    named = run("train", "--class", "\u200b: Cats meow.", "--class", DOG, "--save", tmp_path / "m.model")
    assert named.exit_code == 2 and "has an empty class name" in named.output
    tag = run("tags", "add", "s", "--id", "\ufeff", "--name", "x", "--db", tmp_path / "t.db")
    assert tag.exit_code == 2 and "tag id is empty" in tag.output
    assert not (tmp_path / "m.model").exists()


def test_an_excel_tag_file_imports_like_an_excel_data_file(tmp_path):
    """`tags import` read its CSV with a plain utf-8 decoder: Excel's byte-order mark glued itself to the first
    header, and "Tag_ID,Name" found no tag id ("tag id is empty")."""
    db = ["--db", str(tmp_path / "db.sqlite")]
    tags = tmp_path / "tags.csv"
    tags.write_bytes(
        "Tag_ID,Name,Instructions\r\n1,phone,Phone number\r\n2,email,Email address\r\n".encode("utf-8-sig")
    )
    imported = runner.invoke(app, ["tags", "import", "contact", str(tags), *db])
    assert imported.exit_code == 0, imported.output
    listed = runner.invoke(app, ["tags", "list", "contact", "--json", *db])
    assert [(t["tag_id"], t["name"], t["instructions"]) for t in jsonl(listed.stdout)] == [
        ("1", "phone", "Phone number"),
        ("2", "email", "Email address"),
    ]
    as_json = tmp_path / "tags.json"
    as_json.write_bytes(json.dumps([{"ID": 3, "Name": "address"}]).encode("utf-8-sig"))
    assert runner.invoke(app, ["tags", "import", "more", str(as_json), *db]).exit_code == 0
    exported = tmp_path / "contact.jsonl"  # what `tags list --json` writes imports again (it was refused)
    exported.write_text(listed.stdout)
    again = runner.invoke(app, ["tags", "import", "copy", str(exported), *db])
    assert again.exit_code == 0, again.output
    copy = runner.invoke(app, ["tags", "list", "copy", "--json", *db])
    assert jsonl(copy.stdout) == jsonl(listed.stdout)


@pytest.mark.parametrize("name, content", [("tags.csv", "tag_id,name,instructions\r\n"), ("tags.json", "[]")])
def test_a_tag_file_with_no_tags_is_an_error(tmp_path, name, content):
    """It said "imported 0 tag(s) into contact" and exited 0, and no set was made."""
    empty = tmp_path / name
    empty.write_text(content)
    result = runner.invoke(app, ["tags", "import", "contact", str(empty), "--db", str(tmp_path / "db.sqlite")])
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {empty} holds no tags"


def test_save_never_replaces_a_file_that_is_not_a_bundle(tmp_path, pets_bundle):
    """`--save data.csv` (meant as --data) replaced the training data with the bundle."""
    data = tmp_path / "data.csv"
    data.write_text("text,label\nwoof,dog\nmeow,cat\n")
    before = data.read_bytes()
    refused = run("train", "--data", data, "--save", data)
    assert refused.exit_code == 2 and "exists and is not a model bundle: not overwritten" in refused.output
    assert data.read_bytes() == before
    retrain = run("retrain", "--load", pets_bundle, "--save", data, "--db", tmp_path / "f.db")
    assert retrain.exit_code == 2 and data.read_bytes() == before
    with pytest.raises(BundleError, match="not a model bundle"):
        Classifier.load(pets_bundle).save(data)
    assert data.read_bytes() == before
    empty, model = tmp_path / "empty.model", tmp_path / "m.model"
    empty.touch()  # `mktemp` makes one: nothing in it to lose
    for target in (empty, model, model):  # new, empty, and an existing bundle replaced
        assert run("train", "--data", data, "--save", target).exit_code == 0
    assert sorted(Classifier.load(empty).classes_) == ["cat", "dog"]


def test_a_read_only_file_is_never_replaced(tmp_path, pets_bundle):
    """A rename replaces a file whatever its mode (and root writes anything): `chmod a-w m.model`, made to keep a
    bundle, did not keep it from --save, retrain or --output."""
    kept, table = tmp_path / "kept.model", tmp_path / "kept.parquet"
    kept.write_bytes(pets_bundle.read_bytes())
    table.write_bytes(b"PAR1 not replaced")
    for path in (kept, table):
        path.chmod(0o444)
    before = kept.read_bytes()
    trained = run("train", *PETS, "--save", kept)
    assert trained.exit_code == 2 and "kept.model: it is read-only" in trained.stderr
    assert "training examples" not in trained.stderr  # refused before any work
    retrained = run("retrain", "--load", pets_bundle, "--save", kept, "--db", tmp_path / "f.db")
    assert retrained.exit_code == 2 and "read-only" in retrained.stderr
    with pytest.raises(BundleError, match="read-only"):
        Classifier.load(pets_bundle).save(kept)
    written = run("classify", "--load", pets_bundle, "--output", table, "woof")
    assert written.exit_code == 2 and "kept.parquet: is read-only" in written.stderr
    assert kept.read_bytes() == before and table.read_bytes() == b"PAR1 not replaced"
    kept.chmod(0o644)  # writable again: replaced as before
    assert run("train", *PETS, "--save", kept).exit_code == 0


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("classes.yaml", "cat: Cats meow.\ndog: Dogs bark.\ncat: Small felines.\n", "'cat' is given twice"),
        ("classes.json", '{"cat": "Cats meow.", "dog": "Dogs bark.", "cat": "Small felines."}', "'cat' is given twice"),
        (
            "classes.yaml",
            "- name: cat\n  description: Cats\n- name: dog\n  description: Dogs\n- name: 'cat '\n  description: again\n",
            "class 'cat'",
        ),
    ],
)
def test_a_class_given_twice_in_a_class_file_is_refused(tmp_path, name, text, message):
    """The parsers kept the last description and dropped the first without a word; --class twice was refused."""
    classes = tmp_path / name
    classes.write_text(text)
    result = run("train", "--classes", classes, "--save", tmp_path / "m.model")
    assert result.exit_code == 2 and message in result.output and "given twice" in result.output
    assert not (tmp_path / "m.model").exists()


@pytest.mark.parametrize("name, content", [("classes.json", "{}"), ("classes.yaml", "[]\n")])
def test_a_class_file_with_no_classes_names_the_file(tmp_path, name, content):
    empty = tmp_path / name
    empty.write_text(content)
    result = run("train", "--classes", empty, "--train", "cat: meow", "--save", tmp_path / "m.model")
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {empty} holds no classes"


def test_a_yaml_class_file_on_standard_input(tmp_path):
    """`--classes -` was "file not found: -" though `--data -` reads standard input."""
    model = tmp_path / "m.model"
    yaml_text = b"cat: Cats meow, and purr.\ndog: Dogs bark.\n"
    result = run("train", "--classes", "-", "--save", model, input=yaml_text)
    assert result.exit_code == 0, result.output
    assert Classifier.load(model).descriptions == {"cat": "Cats meow, and purr.", "dog": "Dogs bark."}
    broken = run("train", "--classes", "-", "--save", model, input=b"cat Cats meow\ndog: Dogs bark.\n")
    assert broken.exit_code == 2, broken.output
    assert broken.stderr.strip().startswith("error: standard input: cannot parse class file (")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("classes.csv", b"\xef\xbb\xbfname,description\r\ncat,\"Cats meow, and purr.\"\r\ndog,Dogs bark.\r\n"),  # Excel
        ("classes.csv", b"sep=;\r\nClass;Description\r\ncat;Cats meow, and purr.\r\ndog;Dogs bark.\r\n"),
        ("classes.tsv", b"label\tdescription\ncat\tCats meow, and purr.\ndog\tDogs bark.\n"),
        ("classes.jsonl", b'{"name": "cat", "description": "Cats meow, and purr."}\n{"name": "dog", "description": "Dogs bark."}\n'),
    ],
)  # fmt: skip
def test_a_class_file_may_be_a_spreadsheet_or_json_lines(tmp_path, name, content):
    """`--classes classes.csv` (a spreadsheet of names and descriptions, as `tags import` takes) was read as YAML:
    "expected a mapping of class name to description"."""
    classes = tmp_path / name
    classes.write_bytes(content)
    # standard input and a pipe (`--classes <(python make_classes.py)`) have no name to go by: read by what they
    # hold ("-" was "file not found", and a pipe was read as YAML: "expected a mapping of class name to description")
    for given, stdin in ((classes, None), ("-", content), (fed_pipe(tmp_path / "pipe", content), None)):
        result = run("train", "--classes", given, "--save", tmp_path / "m.model", input=stdin)
        assert result.exit_code == 0, (given, result.output)
        want = {"cat": "Cats meow, and purr.", "dog": "Dogs bark."}
        assert Classifier.load(tmp_path / "m.model").descriptions == want
    nameless = tmp_path / "nameless.csv"
    nameless.write_text("title,description\ncat,Cats meow.\n")
    refused = run("train", "--classes", nameless, "--save", tmp_path / "m.model")
    assert refused.exit_code == 2 and refused.stderr.strip() == (
        f"error: {nameless}:2: no class name column (expected one of: name, class, label; found: 'title', "
        "'description')"
    )


def test_class_names_in_yaml_stay_as_written(tmp_path):
    """YAML 1.1 read `yes:`, `no:` and `007:` as True, False and 7: the classes were "True", "False" and "7"."""
    classes = tmp_path / "classes.yaml"
    classes.write_text(
        "yes: The answer agrees.\nno: The answer refuses.\n007:\n  - A spy story.\n  - Secret agents.\n",
        encoding="utf-8",
    )
    model = tmp_path / "m.model"
    result = run("train", "--classes", classes, "--save", model)
    assert result.exit_code == 0, result.output
    clf = Classifier.load(model)
    assert sorted(clf.classes_) == ["007", "no", "yes"]
    assert clf.descriptions["007"] == "A spy story. Secret agents."  # a list of sentences is one description
    for body, message in [("a: x\nb: {c: d}\n", "a description is text or a list"), ("a: x\nb: null\n", "empty")]:
        classes.write_text(body, encoding="utf-8")
        failed = run("train", "--classes", classes, "--save", model)
        assert failed.exit_code == 2 and message in failed.stderr, failed.output
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "sure", "label": true}\n{"text": "never", "label": false}\n', encoding="utf-8")
    assert run("train", "--data", data, "--save", model).exit_code == 0
    assert sorted(Classifier.load(model).classes_) == ["false", "true"]  # JSON's spelling, not Python's


def test_a_full_disk_or_a_file_in_the_way_is_one_line_and_keeps_what_was_there(pets_bundle, tmp_path, monkeypatch):
    """`examples export -o`, `classify -o` and `logs off` let the system's OSError out as "internal error"."""
    import errno

    import llmclf.atomic

    db = ["--db", str(tmp_path / "db.sqlite")]
    out = tmp_path / "out.jsonl"
    was = '{"text": "an earlier export", "label": "dog", "source": "feedback", "meta": {}}\n'
    out.write_text(was)  # only a file it wrote itself is replaced
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("")
    export = ["examples", "export", "--model", str(pets_bundle), *db, "-o"]
    blocked = runner.invoke(app, [*export, str(in_the_way / "x.jsonl")])
    assert blocked.exit_code == 2 and "a-file" in blocked.stderr, blocked.output
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["woof"]}), parquet)
    classify = ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(parquet)]
    blocked = runner.invoke(app, [*classify, "-o", str(in_the_way / "o.parquet")])
    assert blocked.exit_code == 2 and "a-file" in blocked.stderr, blocked.output
    logs_off = runner.invoke(app, ["logs", "off"], env={"LLMCLF_HOME": str(in_the_way)})
    assert logs_off.exit_code == 2 and "cannot turn logging off" in logs_off.stderr, logs_off.output

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(llmclf.atomic.os, "fsync", full)
    for args in ([*export, str(out)], [*classify, "-o", str(tmp_path / "out.parquet")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "No space left on device" in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and "internal error" not in result.stderr
    assert out.read_text() == was and not (tmp_path / "out.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_place_no_file_can_be_written_is_refused_before_the_work_naming_what_the_user_gave(
    pets_bundle, tmp_path, monkeypatch
):
    """`train --save out.csv/x.model` trained first, then said "File exists"; `classify -o /proc/x.parquet` named
    the temporary file ("/proc/.x.parquet.123.tmp: No such file or directory"); a read-only folder cost the
    whole training too."""
    import errno

    import llmclf.atomic

    in_the_way = tmp_path / "out.csv"
    in_the_way.write_text("")
    trained = run("train", *PETS, "--save", in_the_way / "x.model")
    assert trained.exit_code == 2 and "training examples" not in trained.stdout
    assert (
        trained.stderr.strip() == f"error: cannot write {in_the_way / 'x.model'}: {in_the_way} is a file, not a folder"
    )
    classify = ["classify", "--load", pets_bundle, "--no-log", "woof", "-o"]
    blocked = run(*classify, in_the_way / "x.parquet")
    assert blocked.stderr.strip() == f"error: {in_the_way / 'x.parquet'}: {in_the_way} is a file, not a folder"

    read_only = tmp_path / "read-only"
    read_only.mkdir()
    access = os.access
    monkeypatch.setattr(llmclf.atomic.os, "access", lambda p, mode: Path(p) != read_only and access(p, mode))
    trained = run("train", *PETS, "--save", read_only / "x.model")
    assert trained.exit_code == 2 and "training examples" not in trained.stdout
    assert f"cannot write {read_only / 'x.model'}: no permission to make files in {read_only}" in trained.stderr
    monkeypatch.undo()

    def refused(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(llmclf.atomic.tempfile, "mkstemp", refused)
    target = tmp_path / "o.parquet"
    written = run(*classify, target)
    assert written.stderr.strip() == f"error: {target}: Read-only file system (making a file in {tmp_path})"


def test_a_url_given_where_the_cli_writes_a_file_is_refused_not_written_to_a_folder_named_s3(
    pets_bundle, tmp_path, monkeypatch
):
    """--save s3://bucket/x.model became the path "s3:/bucket/x.model": a bundle in a new folder "s3:" here, and
    "saved" said as if it had gone to the bucket."""
    monkeypatch.chdir(tmp_path)
    db = ["--db", tmp_path / "db.sqlite"]
    cases = [
        (["train", *PETS, "--save", "s3://bucket/x.model"], "--save s3://bucket/x.model"),
        (["retrain", "--load", pets_bundle, "--save", "gs://bucket/x.model", *db], "--save gs://bucket/x.model"),
        (
            ["classify", "--load", pets_bundle, "--no-log", "woof", "-o", "s3://b/o.parquet"],
            "--output s3://b/o.parquet",
        ),
        (["examples", "export", "--load", pets_bundle, *db, "-o", "memory://b/e.jsonl"], "--output memory://b/e.jsonl"),
    ]
    for args, flag in cases:
        result = run(*args)
        assert result.exit_code == 2 and result.stderr.strip() == (
            f"error: {flag} is a URL: the CLI writes local files (from Python, Classifier.save and load take fsspec "
            "URLs)"
        ), result.output
    for command in (["tags", "list"], ["classify", "--load", pets_bundle, "woof"]):  # a database is a local file too
        result = run(*command, "--db", "s3://bucket/llmclf.db")
        assert result.exit_code == 2, result.output
        assert (
            result.stderr.strip()
            == "error: cannot open database s3://bucket/llmclf.db: SQLite databases are local files, not URLs"
        )
    loaded = run("classify", "--load", "s3://bucket/x.model", "woof")
    assert loaded.exit_code == 2 and "(s3://bucket/x.model is a URL: the CLI reads local files" in loaded.stderr
    for command in (["tags", "list"], ["logs", "list"]):  # SQLite said only "unable to open database file"
        result = run(*command, "--db", str(tmp_path))
        assert result.exit_code == 2 and result.stderr.strip() == (
            f"error: cannot open database {tmp_path}: it is a folder; give a file, such as {tmp_path / 'llmclf.db'}"
        ), result.output
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(":")]  # no s3:, gs: or memory: folder
    (tmp_path / "odd:").mkdir()  # a folder with a colon in its name is still a folder
    assert run("train", *PETS, "--save", "odd:/x.model").exit_code == 0 and (tmp_path / "odd:" / "x.model").exists()


def test_process_substitution_and_fifos_are_read(pets_bundle, tmp_path):
    result = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m llmclf classify --load {pets_bundle} --no-log --input <(printf 'woof\\nmeow\\n')",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "LLMCLF_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["prediction"] for x in result.stdout.splitlines()] == ["dog", "cat"]


def test_real_subprocess_end_to_end(tmp_path):
    model = tmp_path / "pets.model"
    exe = [sys.executable, "-m", "llmclf"]
    train = subprocess.run(
        [*exe, "train", "--class", CAT, "--class", DOG, "--save", str(model)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert train.returncode == 0, train.stderr
    proc = subprocess.run(
        [*exe, "classify", "--load", str(model)], input="woof\nmeow\n", capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["prediction"] for r in jsonl(proc.stdout)] == ["dog", "cat"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["classify", "--bogus"], "No such option: --bogus"),
        (["classify", "woof"], "Missing option '--load'"),
        (["classify", "--load", "x.model", "--threshold", "7", "w"], "--threshold"),
        (["train", "--class", "nocolon", "--class", "b: x"], "no colon found"),
        (["classify", "--bogus"], "(see: llmclf classify --help)"),
        (["logs", "prune"], "(see: llmclf logs prune --help)"),  # it sent people to `llmclf prune --help`
        (["tags", "add"], "(see: llmclf tags add --help)"),
        (["classify", "--load", "x.model", "--batch-size", "9" * 20, "w"], "--batch-size"),  # was an islice error
        # a text that starts with '-' was only "No such option: -5"
        (["classify", "--load", "x.model", "-5 stars, awful"], "-- '-5 stars, awful')"),
        (["tag", "--set", "s", "-1"], "'-1' is a text? put texts that start with '-' after --: llmclf tag ... -- -1)"),
    ],
)
def test_real_subprocess_usage_errors_are_one_line(args, message, tmp_path):
    console_script = Path(sys.executable).parent / "llmclf"
    exe = [str(console_script)] if console_script.exists() else [sys.executable, "-m", "llmclf"]
    proc = subprocess.run(
        [*exe, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_thread_count_past_the_ceiling_is_refused_before_any_thread_starts(pets_bundle, monkeypatch):
    """--threads 100000 made onnxruntime start 100,000 threads: 16 GiB and ten minutes on 2 cores, then killed."""
    from llmclf import Classifier, InputError

    flag = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--threads", "257", "woof"])
    assert flag.exit_code == 2 and "--threads" in flag.stderr and "256" in flag.stderr, flag.output
    for value in ("257", "0", "x"):  # 257: a broken ceiling costs 257 threads here, not 100,000
        env = runner.invoke(
            app, ["classify", "--load", str(pets_bundle), "--no-log", "woof"], env={"LLMCLF_THREADS": value}
        )
        assert env.exit_code == 2 and "LLMCLF_THREADS must be a whole number of threads from 1 to 256" in env.stderr
    with pytest.raises(InputError, match="from 1 to 256"):
        Classifier.load(pets_bundle, threads=257).predict(["woof"])
    assert (
        runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--threads", "2", "woof"]).exit_code
        == 0
    )


def test_classify_still_works_when_the_default_run_log_cannot_open(pets_bundle, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("LLMCLF_HOME", str(blocker))
    result = run("classify", "--load", pets_bundle, "woof")
    assert result.exit_code == 0, result.output
    assert "run log unavailable" in result.stderr
    assert "run_id" not in jsonl(result.stdout)[0]
    explicit = run("classify", "--load", pets_bundle, "--db", blocker / "x.db", "woof")
    assert explicit.exit_code == 2 and "cannot open database" in explicit.stderr


def test_help_names_values_plainly_and_documents_every_option():
    import re

    from typer.main import get_command

    group = get_command(app)
    names = ["--help"] + [f"{name} --help" for name in group.commands]
    names += [f"{g} {c} --help" for g, sub in group.commands.items() if hasattr(sub, "commands") for c in sub.commands]
    for args in names:
        shown = runner.invoke(app, args.split(), env={"COLUMNS": "200"}).stdout
        assert not re.search(r"<(bool|str|path|list\[\w+\]|int|float)>|\[\[|\{path\}", shown), (args, shown)
    serve = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).stdout
    assert "Port to listen on" in serve


def test_every_help_text_is_shown_whole():
    """Help goes through rich markup: ``pip install 'llmclf[finetune]'`` showed as ``pip install 'llmclf'``.
    Every command's and option's help must reach the screen as written (``\\[`` is how one writes a bracket)."""
    from typer.main import get_command

    def commands(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from commands(sub, [*path, name])

    checked = 0
    for path, command in commands(get_command(app), []):
        shown = " ".join(runner.invoke(app, [*path, "--help"], env={"COLUMNS": "1000"}).stdout.split())
        helps = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params if not p.hidden]
        for text in filter(None, helps):
            first = text.strip().split("\n\n")[0]  # the first paragraph is shown whole; click cuts later ones
            assert " ".join(first.replace("\\[", "[").split()) in shown, (path, text)
            checked += 1
    assert checked > 50


def test_one_vocabulary_with_old_spellings_still_accepted(pets_bundle, tmp_path):
    db = ["--db", str(tmp_path / "db.sqlite")]
    new = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--shots", "2", *db, "woof"])
    old = runner.invoke(app, ["classify", "-l", str(pets_bundle), "--k", "2", *db, "-d", "woof"])
    assert new.exit_code == old.exit_code == 0, (new.output, old.output)
    assert json.loads(new.stdout)["prediction"] == json.loads(old.stdout)["prediction"] == "dog"
    assert runner.invoke(app, ["info", "--load", str(pets_bundle)]).exit_code == 0
    assert runner.invoke(app, ["info", str(pets_bundle)]).exit_code == 0  # the old positional
    missing = runner.invoke(app, ["info"])
    assert missing.exit_code == 2 and "missing option --load" in missing.stderr
    copy = tmp_path / "copy.model"
    assert runner.invoke(app, ["retrain", "--load", str(pets_bundle), "--save", str(copy), *db]).exit_code == 0
    assert runner.invoke(app, ["retrain", str(copy), *db]).exit_code == 0
    assert runner.invoke(app, ["examples", "list", "--model", str(copy), *db]).exit_code == 0
    data = tmp_path / "eval.jsonl"
    data.write_text('{"text": "woof", "label": "dog"}\n{"text": "meow", "label": "cat"}\n')
    for args in (["eval", "--data", str(data)], ["eval", str(data)]):
        result = runner.invoke(app, [*args, "--load", str(pets_bundle), "--json"])
        assert result.exit_code == 0 and json.loads(result.stdout)["accuracy"] == 1.0, result.output


def test_every_command_that_prints_data_has_json(pets_bundle, tmp_path):
    db = ["--db", str(tmp_path / "db.sqlite")]
    model = tmp_path / "m.model"
    trained = runner.invoke(app, ["train", *PETS, "--save", str(model), "--json"])
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["path"] == str(model) and report["classes"] == ["cat", "dog"] and report["llm"] is None
    assert runner.invoke(app, ["tags", "add", "contact", "--id", "1", "--name", "phone", *db]).exit_code == 0
    assert json.loads(runner.invoke(app, ["tags", "list", "--json", *db]).stdout) == {"set": "contact", "tags": 1}
    (tag,) = [json.loads(x) for x in runner.invoke(app, ["tags", "list", "contact", "--json", *db]).stdout.splitlines()]
    assert tag == {"tag_id": "1", "name": "phone", "instructions": ""}
    listed = [json.loads(x) for x in runner.invoke(app, ["embedders", "list", "--json"]).stdout.splitlines()]
    assert [e["name"] for e in listed] == ["minilm", "fast", "minilm-float"] and listed[0]["ready"] is True
    run = json.loads(runner.invoke(app, ["classify", "--load", str(model), *db, "woof"]).stdout)
    fb = runner.invoke(app, ["feedback", run["run_id"], "--correction", "cat", "--json", *db])
    assert json.loads(fb.stdout) == {"run_id": run["run_id"], "stored": True, "replaced": [], "label": "cat"}
    (example,) = [
        json.loads(x)
        for x in runner.invoke(app, ["examples", "list", "--load", str(model), "--json", *db]).stdout.splitlines()
    ]
    assert (example["text"], example["label"], example["source"]) == ("woof", "cat", "feedback")
    retrained = json.loads(runner.invoke(app, ["retrain", "--load", str(model), "--json", *db]).stdout)
    assert retrained["added"] == 1 and retrained["path"] == str(model)
    assert json.loads(runner.invoke(app, ["info", "--load", str(model), "--json"]).stdout)["classes"] == ["cat", "dog"]


@pytest.mark.parametrize("named", [True, False], ids=["model named", "model asked of /models"])
def test_an_unreachable_llm_is_an_error_and_no_llm_trains_without_it(tmp_path, named):
    """A configured LLM that never answered saved a bundle without synthetic data, exit 0, when the model was named;
    unnamed (looked up at /models) the same endpoint was an error. Both are one line, exit 2, nothing saved, and
    --no-llm trains without the LLM the environment configures."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "LLMCLF_LLM_MODEL": "m" if named else None}
    saved = tmp_path / "m.model"
    args = ["train", *PETS, "--save", str(saved), "--llm-retries", "0", "--llm-timeout", "2"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2 and not saved.exists(), result.output
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ") and f"cannot reach http://127.0.0.1:{port}/v1" in line
    assert line.endswith("nothing saved; start the endpoint or fix its settings, or train without it: --no-llm")
    offline = runner.invoke(app, [*args, "--no-llm"], env=env)
    assert offline.exit_code == 0 and saved.is_file(), offline.output
    assert "--no-llm: training from class descriptions and your examples only" in offline.stderr
    both = runner.invoke(app, [*args, "--no-llm", "--llm-model", "m"], env=env)
    assert both.exit_code == 2 and "give it or the --llm-* options, not both" in both.stderr


def test_user_text_in_messages_is_printed_literally(pets_bundle, tmp_path):
    db = ["--db", str(tmp_path / "db.sqlite")]
    missing = runner.invoke(app, ["classify", "--load", "[/x].model", "hi"])
    assert missing.exit_code == 2 and "model bundle not found: [/x].model" in missing.stderr
    secret = runner.invoke(app, ["classify", "--load", "[red]secret[/red].model", "hi"])
    assert "[red]secret[/red].model" in secret.stderr
    unknown = runner.invoke(app, ["feedback", "[/x]", "--score", "1", *db])
    assert unknown.exit_code == 2 and "unknown run id '[/x]'" in unknown.stderr
    added = runner.invoke(app, ["tags", "add", "s", "--id", "1", "--name", "[/oops]", *db])
    assert added.exit_code == 0 and "added tag 1 ([/oops]) to s" in added.stdout
    listed = runner.invoke(app, ["tags", "list", "s", *db])
    assert listed.exit_code == 0 and "[/oops]" in listed.stdout
    for result in (missing, secret, unknown, added, listed):
        assert "Traceback" not in result.output


def test_classify_never_imports_sklearn_or_the_llm_stack(pets_bundle, tmp_path):
    """scipy.sparse is the one heavy import a hybrid head needs (about 0.1 s); sklearn and the LLM stack never load."""
    script = (
        "import sys\n"
        "from llmclf.cli.app import main\n"
        f"sys.argv = ['llmclf', 'classify', '--load', {str(pets_bundle)!r}, '--no-log', 'woof']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('sklearn', 'openai', 'instructor', 'torch') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "LLMCLF_HOME": str(tmp_path)}
    )
    assert "HEAVY []" in result.stderr, result.stderr


def test_parquet_for_training_data_unlabelled_texts_and_eval(tmp_path):
    """`classify --input` read Parquet while `train --data`, `--unlabeled` and `eval` did not: --unlabeled read the
    binary file as lines of text and said "x.parquet:1: not UTF-8 text"."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    data, pool = tmp_path / "data.parquet", tmp_path / "pool.parquet"
    pq.write_table(
        pa.table({"Text": ["woof woof", "meow", "bark", "purr"], "label": ["dog", "cat", "dog", "cat"]}), data
    )
    pq.write_table(pa.table({"text": ["a dog barking at the door", "a cat purring on my lap"]}), pool)
    model = tmp_path / "m.model"
    trained = run("train", "--data", data, "--unlabeled", pool, "--save", model)
    assert trained.exit_code == 0, trained.output
    assert sorted(Classifier.load(model).classes_) == ["cat", "dog"]
    evaluated = run("eval", "--load", model, data, "--json")
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["n"] == 4, evaluated.output
    holes = tmp_path / "holes.parquet"
    pq.write_table(pa.table({"text": ["a dog", None]}), holes)
    failed = run("train", "--data", data, "--unlabeled", holes, "--save", model)
    assert failed.exit_code == 2 and "holes.parquet:2: text is empty (null in the text column)" in failed.stderr


def fed_pipe(path: Path, content: bytes) -> Path:
    """A FIFO that a thread fills with ``content`` once a reader opens it: what ``<(jq ...)`` hands a command."""
    import threading

    os.mkfifo(path)

    def feed() -> None:
        with open(path, "wb") as fh:
            fh.write(content)

    threading.Thread(target=feed, daemon=True).start()
    return path


@pytest.mark.parametrize(
    "content",
    [
        b"text,label\nwoof woof,dog\nmeow,cat\n",
        b'{"text": "woof woof", "label": "dog"}\n{"text": "meow", "label": "cat"}\n',
        b'[{"text": "woof woof", "label": "dog"}, {"text": "meow", "label": "cat"}]',
    ],
)
def test_a_pipe_is_read_by_what_it_holds(pets_bundle, tmp_path, content):
    """`llmclf eval --data <(jq ...)` said "/dev/fd/63: expected a .csv, .jsonl, .json or .parquet file": a pipe has
    no name to go by. It is now read as stdin is: JSON Lines, a JSON array or CSV, by its first character."""
    evaluated = run("eval", "--load", pets_bundle, "--data", fed_pipe(tmp_path / "data", content), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["n"] == 2
    table = b"ticket,body\n7,woof woof\n8,meow\n"
    args = ["--text-column", "body", "--id-column", "ticket", "--no-log"]
    classified = run("classify", "--load", pets_bundle, "-i", fed_pipe(tmp_path / "texts", table), *args)
    assert classified.exit_code == 0, classified.output
    assert [(r["id"], r["prediction"]) for r in jsonl(classified.stdout)] == [("7", "dog"), ("8", "cat")]


def test_tags_import_reads_a_pipe(tmp_path):
    """`llmclf tags import copy <(llmclf tags list pets --json --db other.db)` said "/dev/fd/63: expected a .csv,
    .jsonl or .json tag file"."""
    db = ["--db", tmp_path / "t.db"]
    exported = b'{"tag_id": "1", "name": "dog", "instructions": "barks"}\n{"tag_id": "2", "name": "cat"}\n'
    for name, content in (("jsonl", exported), ("csv", b"id,name\n1,dog\n2,cat\n")):
        imported = run("tags", "import", name, fed_pipe(tmp_path / name, content), *db)
        assert imported.exit_code == 0, imported.output
        listed = jsonl(run("tags", "list", name, "--json", *db).stdout)
        assert [(t["tag_id"], t["name"]) for t in listed] == [("1", "dog"), ("2", "cat")]
    piped = run("tags", "import", "stdin", "-", *db, input=b"id,name\n1,dog\n")
    assert piped.exit_code == 0, piped.output
    assert [t["name"] for t in jsonl(run("tags", "list", "stdin", "--json", *db).stdout)] == ["dog"]
    empty = run("tags", "import", "none", "-", *db, input=b"")
    assert empty.exit_code == 2 and empty.stderr.strip() == "error: standard input holds no tags"


def test_a_class_name_typed_composed_or_decomposed_is_one_class(tmp_path):
    """ "café" with é as one character and as e + U+0301 (macOS file names, some keyboards) made two classes that
    looked the same in every table; feedback and eval then knew only one of them."""
    import unicodedata

    composed, decomposed = "café", unicodedata.normalize("NFD", "café")
    assert composed != decomposed
    model, db = tmp_path / "m.model", ["--db", tmp_path / "d.db"]
    args = ["--class", f"{composed}: coffee places and drinks", "--class", "bar: beer and wine"]
    trained = run("train", *args, "--train", f"{decomposed}: a latte please", "--save", model)
    assert trained.exit_code == 0, trained.output
    assert Classifier.load(model).class_names == ["bar", composed]
    (run_id,) = [r["run_id"] for r in jsonl(run("classify", "--load", model, "a pint", *db).stdout)]
    assert run("feedback", run_id, "--correction", decomposed, *db).exit_code == 0
    data = tmp_path / "e.jsonl"
    data.write_text(json.dumps({"text": "an espresso", "label": decomposed}) + "\n")
    report = json.loads(run("eval", "--load", model, data, "--json").stdout)
    assert report["n"] == 1 and not report.get("unknown_labels"), report


def spark_style_folder(folder: Path, table) -> Path:
    """``table`` as Spark writes it: part files in name order, a ``_SUCCESS`` marker and ``.crc`` checksums."""
    import pyarrow.parquet as pq

    folder.mkdir()
    for n, start in enumerate(range(0, table.num_rows, 3)):
        part = folder / f"part-{n:05d}-0c1d.snappy.parquet"
        pq.write_table(table.slice(start, 3), part)
        (folder / f".{part.name}.crc").write_bytes(b"crc")
    (folder / "_SUCCESS").write_bytes(b"")
    return folder


def test_a_folder_of_parquet_files_is_one_table(pets_bundle, tmp_path):
    """Spark, Ray and Dask write a table as a folder of part files (`df.write.parquet("out.parquet")`); every
    command said "out.parquet is a folder, not a file"."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    texts = ["woof woof", "meow", "bark", "purr", "a dog barks", "a cat purrs", "woof", "meow meow"]
    labels = ["dog", "cat", "dog", "cat", "dog", "cat", "dog", "cat"]
    data = spark_style_folder(tmp_path / "data.parquet", pa.table({"text": texts, "label": labels}))
    model = tmp_path / "m.model"
    trained = run("train", "--data", data, "--unlabeled", data, "--save", model)
    assert trained.exit_code == 0, trained.output
    assert sum(e.source.value == "user" for e in Classifier.load(model).examples) == 8, trained.output
    evaluated = run("eval", "--load", model, data, "--json")
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["n"] == 8, evaluated.output
    piped = run("classify", "--load", pets_bundle, "--no-log", "--input", data)
    assert piped.exit_code == 0, piped.output
    assert [json.loads(line)["text"] for line in piped.stdout.splitlines()] == texts  # part files in order
    out = tmp_path / "out.parquet"
    assert run("classify", "--load", pets_bundle, "--input", data, "--output", out).exit_code == 0
    assert pq.read_table(out).column("text").to_pylist() == texts
    # pandas' partition_cols: one folder per value (label=cat/...), the value a column again
    parted = tmp_path / "parted"
    pq.write_to_dataset(pa.table({"text": texts, "label": labels}), parted, partition_cols=["label"])
    assert run("train", "--data", parted, "--save", model).exit_code == 0
    assert sorted(Classifier.load(model).classes_) == ["cat", "dog"]
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["classify", "--load", pets_bundle, "--input", empty], ["train", "--data", empty, "--save", model]):
        refused = run(*args)
        want = f"error: {empty} is a folder, not a file (and it holds no data files)"
        assert refused.exit_code == 2 and refused.stderr.strip() == want


def test_a_folder_of_csv_or_json_lines_parts_is_one_table(pets_bundle, tmp_path):
    """`df.write.csv(..., header=True)` and `df.write.json(...)` in Spark write a folder of part files, each CSV
    with its own header; every command said the folder was not a file."""
    import gzip

    csv_parts, json_parts = tmp_path / "train.csv", tmp_path / "test.json"
    csv_parts.mkdir()
    json_parts.mkdir()
    (csv_parts / "part-00000-a-c000.csv").write_text("text,label\nwoof woof,dog\nmeow,cat\n")
    (csv_parts / "part-00001-a-c000.csv").write_text("text,label\nbark,dog\npurr,cat\n")
    (csv_parts / ".part-00000-a-c000.csv.crc").write_bytes(b"\x00crc")
    (csv_parts / "_SUCCESS").write_bytes(b"")
    (json_parts / "part-00000.json").write_text('{"text": "woof", "label": "dog"}\n')
    (json_parts / "part-00001.json.gz").write_bytes(gzip.compress(b'{"text": "meow", "label": "cat"}\n'))
    model = tmp_path / "m.model"
    assert run("train", "--data", csv_parts, "--save", model).exit_code == 0
    assert sum(e.source.value == "user" for e in Classifier.load(model).examples) == 4
    evaluated = run("eval", "--load", model, json_parts, "--json")
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["n"] == 2, evaluated.output
    piped = run("classify", "--load", pets_bundle, "--no-log", "-i", csv_parts, "--text-column", "text")
    assert [r["text"] for r in jsonl(piped.stdout)] == ["woof woof", "meow", "bark", "purr"]  # parts in name order
    wrong = run("classify", "--load", pets_bundle, "--no-log", "-i", csv_parts, "--text-column", "body")
    assert wrong.exit_code == 2 and "part-00000-a-c000.csv: no column 'body'" in wrong.stderr  # before any output
    (csv_parts / "notes.txt").write_text("not a part\n")  # files of two kinds: not one table, and it says why
    assert run("train", "--data", csv_parts, "--save", model).stderr.strip() == (
        f"error: {csv_parts} is a folder, not a file (a folder is read as one table when its files are all .csv, "
        ".tsv, .json(l) or .parquet alike; here: .csv, .txt)"
    )


@pytest.mark.parametrize("name", ["labels.xlsx", "labels.xls", "labels.ods"])
def test_a_spreadsheet_workbook_is_refused_with_what_to_do(pets_bundle, tmp_path, name):
    """`--data labels.xlsx` was "expected a .csv, .jsonl, .json or .parquet file", and `classify -i labels.xls` (an
    OLE file, not a zip) read its bytes as lines of text, one error record each."""
    workbook = tmp_path / name
    workbook.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 4)
    want = f"error: {workbook} is a spreadsheet workbook: save it as CSV UTF-8 (in Excel: Save As, 'CSV UTF-8')"
    db = ["--db", tmp_path / "t.db"]
    for args in (["train", "--data", workbook], ["eval", "--load", pets_bundle, "--data", workbook],
                 ["train", "--classes", workbook], ["tags", "import", "s", workbook, *db]):  # fmt: skip
        refused = run(*args)
        assert refused.exit_code == 2 and refused.stderr.strip() == want, args
    classified = run("classify", "--load", pets_bundle, "--no-log", "-i", workbook)
    assert classified.exit_code == 2 and classified.stdout == "" and classified.stderr.strip() == want


def test_parquet_in_parquet_out_with_text_and_id_columns(pets_bundle, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    table = pa.table({"ticket": [1, 2, 3, 4], "body": ["woof", None, "meow", ""]})
    pq.write_table(table, source, row_group_size=2)
    out = tmp_path / "out.parquet"
    args = ["classify", "--load", str(pets_bundle), "--input", str(source), "--text-column", "body", "--top-n", "2"]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 1, result.output  # two rows had no usable text
    got = pq.read_table(out)
    assert got.column_names == ["ticket", "body", "prediction", "confidence", "top_k", "model_id", "error"]
    rows = got.to_pylist()
    assert [r["prediction"] for r in rows] == ["dog", None, "cat", None]
    assert [r["error"] for r in rows][1] == "text is null" and rows[3]["error"] == "text is empty"
    assert rows[0]["top_k"][0]["label"] == "dog" and len(rows[0]["top_k"]) == 2
    piped = runner.invoke(app, args)
    assert [json.loads(x)["ticket"] for x in piped.stdout.splitlines()] == [1, 2, 3, 4]
    missing = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--input", str(source)])
    assert missing.exit_code == 2 and "no column 'text'" in missing.stderr and "--text-column" in missing.stderr


def test_output_parquet_from_text_files_csv_and_stdin(pets_bundle, tmp_path):
    """--output took only a Parquet --input ('--output needs a Parquet --input for now'): texts from a CSV, a text
    file or stdin could not be written to Parquet."""
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    data, out = tmp_path / "in.csv", tmp_path / "out.parquet"
    data.write_text("id,text\n7,woof\n8,\n9,meow\n", encoding="utf-8")
    result = run("classify", "--load", pets_bundle, "--input", data, "--id-column", "id", "--output", out, "purr")
    assert result.exit_code == 1, result.output  # one row without text
    rows = pq.read_table(out).to_pylist()
    assert [(r["text"], r["id"], r["prediction"]) for r in rows] == [
        ("purr", None, "cat"),
        ("woof", "7", "dog"),
        (None, "8", None),
        ("meow", "9", "cat"),
    ]
    assert rows[2]["error"] == f"{data}:3: text is empty" and rows[1]["top_k"][0]["label"] == "dog"
    piped = run("classify", "--load", pets_bundle, "--output", out, input="meow\n\xa0\nwoof woof\n")
    assert piped.exit_code == 0, piped.output
    assert pq.read_table(out).column_names == ["text", "prediction", "confidence", "top_k", "model_id", "error"]
    assert [r["prediction"] for r in pq.read_table(out).to_pylist()] == ["cat", "dog"]
    before = out.read_bytes()
    empty = run("classify", "--load", pets_bundle, "--output", out, input="\n\n")
    assert empty.exit_code == 2 and "no texts to classify" in empty.stderr
    assert out.read_bytes() == before  # the earlier output is kept
    wrong = run("classify", "--load", pets_bundle, "--output", tmp_path / "out.csv", "woof")
    assert wrong.exit_code == 2 and "--output writes Parquet" in wrong.stderr
    jsonl = run("classify", "--load", pets_bundle, "--output", tmp_path / "out.jsonl", "woof")
    assert jsonl.exit_code == 2 and jsonl.stderr.strip().endswith("(JSON Lines go to stdout: > FILE)")
    cascade = run("classify", "--load", pets_bundle, "--output", out, "--cascade-below", "0.5", "woof")
    assert cascade.exit_code == 2 and "--cascade-below works on JSON Lines output" in cascade.stderr
    folder = tmp_path / "folder.parquet"
    folder.mkdir()
    refused = run("classify", "--load", pets_bundle, "--output", folder, "woof")
    assert refused.exit_code == 2 and refused.stderr.strip() == f"error: {folder}: is a folder, not a file"
    assert list(tmp_path.glob(".folder.parquet.*")) == []  # it named a temporary file, after all the work


@pytest.mark.parametrize("source", ["in.parquet", "in.txt"])
def test_ctrl_c_while_writing_parquet_keeps_the_old_output_and_prints_no_traceback(
    pets_bundle, tmp_path, monkeypatch, source
):
    """Ctrl-C during `classify --output x.parquet` left the Parquet writer to its __del__, which wrote to the closed
    file: "Exception ignored in: <function ParquetWriter.__del__ ...> Traceback ... write to closed file"."""
    import gc

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from llmclf.parquet_io import classify_parquet, classify_rows_to_parquet

    clf, out = Classifier.load(pets_bundle), tmp_path / "out.parquet"
    out.write_bytes(b"what was there before")
    real, calls = Classifier.predict_batch, []

    def interrupted(self, texts, **kw):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, texts, **kw)

    monkeypatch.setattr(Classifier, "predict_batch", interrupted)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    texts = ["woof", "meow", "bark", "purr"]
    with pytest.raises(KeyboardInterrupt):
        if source.endswith(".parquet"):
            pq.write_table(pa.table({"text": texts}), tmp_path / source)
            classify_parquet(clf, tmp_path / source, out, batch_size=2)
        else:
            classify_rows_to_parquet(clf, ((t, None, None) for t in texts), out, batch_size=2)
    gc.collect()
    assert calls == [2, 2] and unraisable == []
    assert out.read_bytes() == b"what was there before" and list(tmp_path.glob(".out.parquet*")) == []


def test_parquet_from_pandas_nan_and_typed_columns(pets_bundle, tmp_path):
    """pandas writes a missing value as NaN: a NaN label became the class 'nan'. Columns of dates, decimals, bytes
    or NaN next to the text made `classify --input x.parquet` (JSON out) an internal error, for any row."""
    import datetime
    import decimal

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    data = tmp_path / "data.parquet"
    pq.write_table(pa.table({"text": ["woof", "meow", "purr"], "label": [1.0, float("nan"), 2.0]}), data)
    refused = run("train", "--data", data, "--save", tmp_path / "m.model")
    assert refused.exit_code == 2 and "data.parquet:2: label is missing (nan in the label column)" in refused.stderr
    source = tmp_path / "typed.parquet"
    columns = {
        "text": ["woof", None],
        "score": [float("nan"), float("inf")],
        "when": [datetime.datetime(2024, 1, 1, 12, 30), None],
        "day": [datetime.date(2024, 1, 2), None],
        "blob": [b"\x00\x01", None],
        "amount": [decimal.Decimal("1.50"), None],
        "waited": [datetime.timedelta(seconds=3), None],
        "nested": [{"k": [1.5, float("nan")]}, None],
    }
    pq.write_table(pa.table(columns), source)
    result = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(source)])
    assert result.exit_code == 1, result.output  # the second row has no text
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["prediction"] == "dog" and first["score"] is None and first["when"] == "2024-01-01T12:30:00"
    assert first["day"] == "2024-01-02" and first["blob"] == "AAE=" and first["amount"] == "1.50"
    assert first["waited"] == 3.0 and first["nested"] == {"k": [1.5, None]}
    assert second["text"] is None and second["score"] is None and second["error"] == "text is null"
    numbers = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"text": [1.5, float("nan")]}), numbers)
    result = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(numbers)])
    assert [json.loads(line)["error"] for line in result.stdout.splitlines()] == [
        "text is not a string (float)",
        "text is NaN",
    ]


def unchecked_strings(pa, values):
    """A string column holding the raw ``values`` bytes, UTF-8 or not, as other writers can store it."""
    import numpy as np

    offsets = np.cumsum([0] + [len(v or b"") for v in values]).astype(np.int32)
    valid = pa.array([v is not None for v in values]).buffers()[1]
    buffers = [valid, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(v or b"" for v in values))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers, null_count=values.count(None))


def test_parquet_text_that_is_not_utf8_is_a_row_error_and_the_rest_is_classified(pets_bundle, tmp_path):
    """pyarrow reads such strings unchecked and raised UnicodeDecodeError out of classify (found by fuzzing)."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    source = tmp_path / "latin1.parquet"
    column = unchecked_strings(pa, [b"woof", b"caf\xe9 au lait", b"i like milk"])
    pq.write_table(pa.table({"text": column, "note": column}), source)
    args = ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(source)]
    piped = runner.invoke(app, args)
    assert piped.exit_code == 1, piped.output  # one row had no usable text
    records = [json.loads(x) for x in piped.stdout.splitlines()]
    assert [r["prediction"] for r in records] == ["dog", None, "cat"]
    assert records[1]["error"] == "text is not UTF-8" and records[1]["note"] == "caf\ufffd au lait"
    out = tmp_path / "out.parquet"
    assert runner.invoke(app, [*args, "--output", str(out)]).exit_code == 1
    assert pq.read_table(out).column("error").to_pylist() == [None, "text is not UTF-8", None]


def test_text_and_id_columns_for_csv(pets_bundle, tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("Ref,Message\na1,woof\na2,\na3,meow\n")
    args = ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(data)]
    result = runner.invoke(app, [*args, "--text-column", "message", "--id-column", "ref"])
    assert result.exit_code == 1
    records = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(r["id"], r["prediction"]) for r in records] == [("a1", "dog"), ("a2", None), ("a3", "cat")]


def test_a_missing_column_is_one_error_before_any_output(pets_bundle, tmp_path):
    """A CSV without the text column gave an error record per row (a million rows, a million errors); a column
    flag beside argument texts or stdin, or a wrong --id-column on Parquet, was ignored without a word."""
    data = tmp_path / "t.csv"
    data.write_text("Body,label\nwoof,dog\nmeow,cat\n")
    args = ["classify", "--load", str(pets_bundle), "--no-log", "purr", "--input", str(data)]
    cases = {
        (): "t.csv: no text column (expected one of: text, sentence, content, input; columns: Body, label); "
        "pick one with --text-column",
        ("--text-column", "message"): "t.csv: no column 'message' (columns: Body, label); pick one with --text-column",
        (
            "--text-column",
            "BODY",
            "--id-column",
            "ref",
        ): "t.csv: no column 'ref' for --id-column (columns: Body, label)",
    }
    for flags, message in cases.items():
        result = runner.invoke(app, [*args, *flags])
        assert result.exit_code == 2 and result.stdout == "", (flags, result.output)
        assert result.stderr.strip() == f"error: {data.parent / message}", flags
    good = runner.invoke(app, [*args, "--text-column", "BODY", "--id-column", "Label"])
    assert [json.loads(x).get("id") for x in good.stdout.splitlines()] == [None, "dog", "cat"]
    for flag in ("--text-column", "--id-column"):
        alone = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", flag, "body", "woof"])
        assert alone.exit_code == 2 and alone.stdout == ""
        assert f"{flag} names a column of an --input file" in alone.stderr
        piped = runner.invoke(
            app, ["classify", "--load", str(pets_bundle), "--no-log", flag, "body", "-"], input="woof\n"
        )
        assert piped.exit_code == 2 and piped.stdout == ""
    plain = tmp_path / "t.txt"
    plain.write_text("woof\n")
    result = runner.invoke(app, ["classify", "--load", str(pets_bundle), "-i", str(plain), "--text-column", "body"])
    assert result.exit_code == 2 and "--text-column needs a CSV, JSONL or Parquet file" in result.stderr
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"body": ["woof"]}), table)
    result = runner.invoke(
        app, ["classify", "--load", str(pets_bundle), "-i", str(table), "--text-column", "body", "--id-column", "ref"]
    )
    assert result.exit_code == 2 and "t.parquet: no column 'ref' for --id-column (columns: body)" in result.stderr


@pytest.mark.parametrize(
    ("debug", "traceback"),
    [(None, False), ("0", False), ("", False), ("false", False), ("OFF", False), ("1", True), ("yes", True)],
)
def test_a_bug_is_one_line_unless_llmclf_debug_asks_for_the_traceback(monkeypatch, capsys, debug, traceback):
    """LLMCLF_DEBUG=0 showed the traceback too: any non-empty value did."""
    import importlib

    cli_app = importlib.import_module("llmclf.cli.app")  # the package's `app` attribute is the Typer object

    def boom(**_):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_app, "app", boom)
    if debug is None:
        monkeypatch.delenv("LLMCLF_DEBUG", raising=False)
    else:
        monkeypatch.setenv("LLMCLF_DEBUG", debug)
    if traceback:
        with pytest.raises(RuntimeError, match="boom"):
            cli_app.main()
        return
    with pytest.raises(SystemExit) as exited:
        cli_app.main()
    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "internal error: RuntimeError: boom (set LLMCLF_DEBUG=1 for the traceback)"
    ]


def test_labelled_data_on_stdin_with_data_dash(tmp_path):
    """`cat data.csv | llmclf train --data -`: CSV, or JSONL when the first character is `{`."""
    model = tmp_path / "m.model"
    as_csv = run("train", "--data", "-", "--save", model, input="Text,Label\nwoof woof,dog\nmeow,cat\n")
    assert as_csv.exit_code == 0, as_csv.output
    assert sorted(Classifier.load(model).classes_) == ["cat", "dog"]
    lines = '{"text": "woof woof", "label": "dog"}\n{"text": "purr", "label": "kitten"}\n'
    as_jsonl = run("train", "--data", "-", "--save", model, input=lines)
    assert as_jsonl.exit_code == 0, as_jsonl.output
    assert sorted(Classifier.load(model).classes_) == ["dog", "kitten"]
    bad = run("train", "--data", "-", "--save", model, input="text,label\nwoof,\n")
    assert bad.exit_code == 2 and "standard input:2: label is empty" in bad.output
    evaluated = run("eval", "--load", model, "-", "--json", input=lines)
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["n"] == 2, evaluated.output
    twice = run("train", "--data", "-", "--unlabeled", "-", "--save", model, input=lines)
    assert twice.exit_code == 2 and "standard input can be read once" in twice.output  # was an internal error
    array = json.dumps([{"text": "woof woof", "label": "dog"}, {"text": "meow", "label": "cat"}])
    as_array = run("train", "--data", "-", "--save", model, input=array)  # was read as CSV: "got 0 classes"
    assert as_array.exit_code == 0 and sorted(Classifier.load(model).classes_) == ["cat", "dog"], as_array.output


def test_a_data_file_with_no_rows_is_an_error_in_train_as_in_eval(pets_bundle, tmp_path):
    """An export with a header and nothing under it trained from the descriptions alone without a word."""
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    model = tmp_path / "m.model"
    result = run("train", *PETS, "--data", empty, "--save", model)
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {empty} holds no labelled rows (--data)"
    assert not model.exists()
    piped = run("train", *PETS, "--data", "-", "--save", model, input="")
    assert piped.exit_code == 2 and "standard input holds no labelled rows" in piped.stderr
    evaluated = run("eval", "--load", pets_bundle, "--data", "-", input="text,label\n")
    assert evaluated.exit_code == 2 and "error: standard input holds no labelled rows" in evaluated.stderr


def test_unlabelled_texts_on_stdin_with_unlabeled_dash(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("text,label\nwoof woof,dog\nmeow,cat\n")
    pool = "a dog barking at the door\n\na cat purring on my lap\n"
    trained = run("train", "--data", data, "--unlabeled", "-", "--save", tmp_path / "m.model", "--json", input=pool)
    assert trained.exit_code == 0, trained.output  # was "file not found: -"
    assert json.loads(trained.stdout)["self_training"]["pool"] == 2


def test_empty_lists_say_so_on_stderr(tmp_path):
    """`tags list` with no set printed nothing at all, and `logs list` with no run an empty table."""
    db = ["--db", str(tmp_path / "fresh.db")]
    tags = runner.invoke(app, ["tags", "list", *db])
    assert tags.exit_code == 0 and tags.stdout == "" and "no tag sets yet" in tags.stderr
    logs = runner.invoke(app, ["logs", "list", *db])
    assert logs.exit_code == 0 and logs.stdout == "" and "no runs logged yet" in logs.stderr
    assert runner.invoke(app, ["logs", "list", "--json", *db]).output == ""


def test_train_over_an_earlier_bundle_says_it_replaced_it(tmp_path):
    """The default --save path (models/classifier.model) was replaced by every later train without a word."""
    target = tmp_path / "m.model"
    args = ["train", "--class", "cat: Cats meow.", "--class", "dog: Dogs bark.", "--save", str(target)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0 and "replaced" not in first.stderr
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and f"notice: replaced the bundle that was at {target}" in again.stderr


def test_a_header_naming_a_read_column_twice_is_refused(pets_bundle, tmp_path):
    """`text,label,label` trained on the second label column without a word (csv.DictReader keeps the last)."""
    cases = {
        "train.csv": (
            "text,label,Label\nwoof,dog,x\nmeow,cat,y\n",
            ["train", "--save", str(tmp_path / "m.model"), "--data"],
        ),
        "eval.csv": ("text,label,label\nwoof,dog,x\n", ["eval", "--load", str(pets_bundle)]),
        "texts.csv": ("Text,text\nwoof,meow\n", ["classify", "--load", str(pets_bundle), "--no-log", "-i"]),
        "tags.csv": ("id,name,name,instructions\n1,a,b,c\n", ["tags", "import", "s", "--db", str(tmp_path / "t.db")]),
        "tags.json": (
            '[{"id": "1", "name": "a", "name": "b"}]',
            ["tags", "import", "s", "--db", str(tmp_path / "t.db")],
        ),
    }
    for name, (content, args) in cases.items():
        path = tmp_path / name
        path.write_text(content)
        result = runner.invoke(app, [*args, str(path)])
        assert result.exit_code == 2 and result.stdout == "", (name, result.output)
        assert "the header has two" in result.stderr or "'name' is given twice" in result.stderr, name
        assert not (tmp_path / "m.model").exists()
    other = tmp_path / "notes.csv"  # a column nobody reads may be there twice
    other.write_text("text,notes,notes\nwoof,a,b\n")
    assert runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "-i", str(other)]).exit_code == 0


def test_whole_number_labels_written_as_floats_are_the_same_classes(tmp_path):
    """pandas writes an int column with a gap as floats: 1.0 beside 1 made two classes, "1" and "1.0"."""
    data = tmp_path / "d.jsonl"
    rows = [("woof", 1), ("meow", 2), ("bark", 1.0), ("purr", 2.0)]
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows))
    model = tmp_path / "m.model"
    assert runner.invoke(app, ["train", "--data", str(data), "--save", str(model)]).exit_code == 0
    info = json.loads(runner.invoke(app, ["info", str(model), "--json"]).stdout)
    assert info["classes"] == ["1", "2"]


def test_a_json_lines_key_that_is_read_given_twice_is_refused(pets_bundle, tmp_path):
    """JSON keeps the last of two equal keys: {"label": "dog", "label": "cat"} trained as cat without a word."""
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "woof", "label": "dog", "Label": "cat"}\n{"text": "meow", "label": "cat"}\n')
    result = runner.invoke(app, ["train", "--data", str(data), "--save", str(tmp_path / "m.model")])
    assert result.exit_code == 2 and "d.jsonl:1: the key 'label' is given twice" in result.stderr
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "woof", "text": "meow"}\n{"text": "purr", "note": 1, "note": 2}\n')
    result = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "-i", str(texts)])
    records = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 1 and "t.jsonl:1: the key 'text' is given twice" in records[0]["error"]
    assert records[1]["text"] == "purr"  # a key nobody reads may be there twice


def test_examples_export_never_writes_json_lines_over_a_csv(pets_bundle, tmp_path):
    """`examples export -o data.csv` replaced the user's CSV training data with JSON Lines no CSV reader takes."""
    data = tmp_path / "data.csv"
    data.write_text("text,label\nwoof,dog\n")
    args = ["examples", "export", "--load", str(pets_bundle), "--db", str(tmp_path / "db.sqlite"), "-o"]
    result = runner.invoke(app, [*args, str(data)])
    assert result.exit_code == 2 and "--output writes JSON Lines: name it .jsonl, not data.csv" in result.stderr
    assert data.read_text() == "text,label\nwoof,dog\n"
    assert runner.invoke(app, [*args, str(tmp_path / "out.jsonl")]).exit_code == 0


def test_examples_export_and_classify_output_replace_only_a_file_they_wrote(pets_bundle, tmp_path):
    """A suffix check was all: `examples export -o llmclf.db` replaced the run log itself with JSON Lines, and
    `-o data.jsonl` the user's training data; `classify -o data.parquet` the user's Parquet data."""
    import sqlite3

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    db = tmp_path / "db.sqlite"
    run_id = jsonl(run("classify", "--load", pets_bundle, "--db", db, "woof").stdout)[0]["run_id"]
    assert run("feedback", run_id, "--score", "1", "--db", db).exit_code == 0
    data, table = tmp_path / "data.jsonl", tmp_path / "data.parquet"
    data.write_text('{"text": "woof", "label": "dog"}\n')
    pq.write_table(pa.table({"text": ["woof"], "label": ["dog"]}), table)
    before = {p: p.read_bytes() for p in (data, table)}  # the database's bytes change as its log is checkpointed
    export = ["examples", "export", "--load", pets_bundle, "--db", db, "-o"]
    for target in (db, data):
        refused = run(*export, target)
        assert refused.exit_code == 2, refused.output
        assert refused.stderr.strip() == (
            f"error: {target}: exists and is not an examples export: not overwritten (choose another --output path, "
            "or remove it)"
        )
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "\n")  # json.loads gave up with RecursionError: an internal error
    refused = run(*export, deep)
    assert refused.exit_code == 2 and "exists and is not an examples export" in refused.stderr
    refused = run("classify", "--load", pets_bundle, "-o", table, "meow")
    assert refused.exit_code == 2 and f"{table}: exists and is not Parquet that classify wrote" in refused.stderr
    assert {p: p.read_bytes() for p in before} == before
    assert sqlite3.connect(db).execute("SELECT count(*) FROM feedback").fetchone() == (1,)
    ours, out = tmp_path / "ex.jsonl", tmp_path / "out.parquet"
    for _ in range(2):  # a file it wrote itself is replaced, as is an empty one
        assert run(*export, ours).exit_code == 0 and jsonl(ours.read_text())[0]["label"] == "dog"
        assert run("classify", "--load", pets_bundle, "--no-log", "-o", out, "meow").exit_code == 0
    assert pq.read_table(out).column("prediction").to_pylist() == ["cat"]
    empty_in, empty_out = tmp_path / "none.parquet", tmp_path / "none-out.parquet"
    pq.write_table(pa.table({"text": pa.array([], type=pa.string())}), empty_in)
    for _ in range(2):  # no rows: a file of every column, which the next run may replace
        assert run("classify", "--load", pets_bundle, "-i", empty_in, "-o", empty_out).exit_code == 0
    assert pq.read_table(empty_out).num_rows == 0 and "prediction" in pq.read_table(empty_out).column_names


@pytest.mark.parametrize("command", ["classify", "tag"])
def test_a_run_log_that_fails_part_way_costs_the_run_ids_not_the_results(pets_bundle, tmp_path, monkeypatch, command):
    """A full disk under the run log ended `classify` with "database or disk is full" and no output at all:
    every prediction of the run was lost for the sake of their run ids."""
    from llmclf.errors import StoreError
    from llmclf.feedback import RunLog
    from llmclf.store import Store

    db = tmp_path / "db.sqlite"
    Store(db).add_tags("pets", [("1", "dog", ""), ("2", "cat", "")])
    real, calls = RunLog.log, []

    def filling(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise StoreError(f"database {db}: database or disk is full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RunLog, "log", filling)
    monkeypatch.setattr("llmclf.cli.tags.TAG_CHUNK", 2)
    texts = ["woof woof", "meow", "bark", "purr", "a dog"]
    head = (
        ["classify", "--load", pets_bundle, "--batch-size", "2"] if command == "classify" else ["tag", "--set", "pets"]
    )
    result = run(*head, "--db", db, *texts)
    assert result.exit_code == 0, result.output
    records = jsonl(result.stdout)
    assert [r["text"] for r in records] == texts
    with_ids = [bool(r.get("run_id")) for r in records]
    assert with_ids[0] and not with_ids[-1] and with_ids == sorted(with_ids, reverse=True)
    assert result.stderr.count("run log unavailable from here on") == 1 and "disk is full" in result.stderr


@pytest.mark.parametrize(
    "piped",
    [
        "\ufeffbody,ticket\r\nwoof woof,7\r\n,8\r\nmeow,9\r\n",  # Excel's CSV
        '{"body": "woof woof", "ticket": 7}\n{"body": "", "ticket": 8}\n{"body": "meow", "ticket": 9}\n',
    ],
    ids=["csv", "jsonl"],
)
def test_a_table_on_stdin_is_read_by_its_columns(pets_bundle, piped):
    """`cat tickets.csv | llmclf classify --text-column body` was refused: "--text-column names a column of an
    --input file; texts as arguments or on stdin are one a line"; `--input -` read the CSV's lines as texts."""
    jsonl_in = piped.startswith("{")
    ids = [7, 8, 9] if jsonl_in else ["7", "8", "9"]  # CSV cells are text
    line = 2 if jsonl_in else 3  # a CSV's header is its line 1
    for stdin in ([], ["--input", "-"]):
        args = ["classify", "--load", pets_bundle, "--no-log", *stdin, "--text-column", "body", "--id-column", "ticket"]
        result = run(*args, input=piped)
        assert result.exit_code == 1, result.output  # the empty body
        records = jsonl(result.stdout)
        assert [(r["prediction"], r.get("id")) for r in records] == list(zip(["dog", None, "cat"], ids, strict=True))
        assert records[1]["error"] == f"standard input:{line}: text is empty"
    lines = run("classify", "--load", pets_bundle, "--no-log", input="woof woof\nmeow\n")  # no column: a text a line
    assert [r["prediction"] for r in jsonl(lines.stdout)] == ["dog", "cat"]


def test_class_names_that_differ_only_in_case_are_said(tmp_path):
    """--class "cat: ..." with --train "Cat: ..." made a second class of one example without a word."""
    args = ["train", "--class", "cat: Cats meow.", "--class", "dog: Dogs bark.", "--save", str(tmp_path / "m.model")]
    result = runner.invoke(app, [*args, "--train", "Cat: i like milk"])
    assert result.exit_code == 0 and "classes alike: 'cat' and 'Cat' differ only in case" in result.stderr
    assert "classes alike" not in runner.invoke(app, [*args, "--train", "cat: i like milk"]).stderr
    fitted = Classifier().fit(["a cat", "a dog", "the kitten"], ["cat", "dog", "Cat "])
    assert any(note.startswith("classes alike") for note in fitted.report.notes)


@pytest.mark.parametrize(
    ("name", "said"), [("ca\nt", "a line break"), ("ca\tt", "a tab"), ("ca\x07t", "the control character U+0007")]
)
def test_a_class_or_tag_name_of_more_than_one_line_is_one_error(tmp_path, name, said):
    """--class "ca<newline>t: ..." trained a class that printed on two lines and could not be typed back as
    --label; a tag name or id with a line break went into the database the same way."""
    args = ["train", "--class", f"{name}: Cats meow.", "--class", "dog: Dogs bark.", "--save", str(tmp_path / "m")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and not (tmp_path / "m").exists()
    assert result.stderr.strip() == f"error: class name {name!r} holds {said}; it must be one line of text"
    with pytest.raises(InputError, match=f"class name {re.escape(repr(name))} holds {re.escape(said)}"):
        Classifier().fit(["a cat", "a dog"], [name, "dog"])
    db = ["--db", str(tmp_path / "t.db")]
    for flag, what in (("--id", "tag id"), ("--name", "tag name")):
        other = "--name" if flag == "--id" else "--id"
        result = runner.invoke(app, ["tags", "add", "pets", flag, name, other, "x", *db])
        assert result.exit_code == 2 and f"error: {what} {name!r} holds {said}" in result.stderr
    result = runner.invoke(app, ["tags", "add", name, "--id", "1", "--name", "x", *db])
    assert result.exit_code == 2 and f"error: tag set name {name!r} holds {said}" in result.stderr
    assert "pets" not in runner.invoke(app, ["tags", "list", *db]).stdout
    with pytest.raises(InputError, match=f"tag name {re.escape(repr(name))} holds {re.escape(said)}"):
        check_tags([{"tag_id": "1", "name": name}, {"tag_id": "2", "name": "x"}])


def test_a_file_given_to_class_or_train_is_pointed_to_the_flag_that_reads_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("classes.yaml").write_text("cat: Cats meow.\ndog: Dogs bark.\n")
    Path("data.csv").write_text("text,label\nwoof,dog\n")
    result = runner.invoke(app, ["train", "--class", "classes.yaml", "--save", "m.model"])
    assert result.exit_code == 2 and result.stderr.strip() == (
        "error: --class 'classes.yaml' must look like NAME:DESCRIPTION (no colon found): "
        "classes.yaml is a file, which --classes FILE reads"
    )
    result = runner.invoke(app, ["train", "--class", "cat: Cats meow.", "--train", "data.csv", "--save", "m.model"])
    assert result.exit_code == 2 and "data.csv is a file, which --data FILE reads" in result.stderr
    result = runner.invoke(app, ["train", "--class", "nothing.yaml", "--save", "m.model"])
    assert result.exit_code == 2 and result.stderr.strip().endswith("(no colon found)")


def test_a_json_array_file_is_read_as_records(pets_bundle, tmp_path):
    """classify --input texts.json (what df.to_json(orient="records") writes) classified the whole array as one
    text, and train --data refused it; JSON Lines named .json are still JSON Lines."""
    texts = tmp_path / "texts.json"
    texts.write_text(json.dumps([{"text": "woof", "ref": "a"}, 5, {"text": "purr", "ref": "c"}]))
    result = runner.invoke(
        app, ["classify", "--load", str(pets_bundle), "--no-log", "-i", str(texts), "--id-column", "ref"]
    )
    records = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 1 and [(r.get("id"), r["prediction"]) for r in records] == [
        ("a", "dog"),
        (None, None),
        ("c", "cat"),
    ]
    assert records[1]["error"] == f"{texts}: item 2 of the array is not a JSON object"
    strings = tmp_path / "strings.json"  # a JSON array of texts was "item 1 of the array is not a JSON object"
    strings.write_text(json.dumps(["woof woof", " ", 5, "meow"]))
    result = runner.invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "-i", str(strings)])
    records = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 1 and [(r["text"], r["prediction"], r.get("error")) for r in records] == [
        ("woof woof", "dog", None),
        (None, None, f"{strings}: item 2: text is empty"),
        (None, None, f"{strings}: item 3 of the array is not a string or a JSON object"),
        ("meow", "cat", None),
    ]
    data = tmp_path / "data.json"
    data.write_text("\ufeff" + json.dumps([{"text": "woof woof", "label": "dog"}, {"text": "meow", "label": "cat"}]))
    model = tmp_path / "m.model"
    assert runner.invoke(app, ["train", "--data", str(data), "--save", str(model)]).exit_code == 0
    assert json.loads(runner.invoke(app, ["eval", "--load", str(model), str(data), "--json"]).stdout)["n"] == 2
    lines = tmp_path / "lines.json"
    lines.write_text('{"text": "woof", "label": "dog"}\n{"text": "meow", "label": "cat"}\n')
    assert json.loads(runner.invoke(app, ["eval", "--load", str(model), str(lines), "--json"]).stdout)["n"] == 2
    twice = tmp_path / "twice.json"
    twice.write_text('[{"text": "woof", "label": "dog", "label": "cat"}]')
    refused = runner.invoke(app, ["train", "--data", str(twice), "--save", str(model)])
    assert refused.exit_code == 2 and "the key 'label' is given twice" in refused.stderr


def test_train_and_eval_read_columns_named_by_flags(tmp_path):
    """A spreadsheet of `review,sentiment` was "no text column" for train and eval, which had no flag to name
    them (classify and tag had --text-column)."""
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("Review,Sentiment\na great film,pos\nloved every minute,pos\nawful,neg\na dull mess,neg\n")
    rows = tmp_path / "reviews.jsonl"
    rows.write_text('{"body": "a fine film", "stars": "pos"}\n{"body": "boring", "stars": "neg"}\n')
    pool = tmp_path / "pool.csv"
    pool.write_text("id,review\n1,what a film\n2,terrible\n")
    model = tmp_path / "m.model"
    refused = run("train", "--data", reviews, "--save", model)
    assert refused.exit_code == 2 and refused.stderr.strip() == (
        f"error: {reviews}:2: no text column (expected one of: text, sentence, content, input; found: 'review', "
        "'sentiment'); name it with --text-column"
    )
    columns = ["--text-column", "review", "--label-column", "sentiment"]
    trained = run("train", "--data", reviews, "--unlabeled", pool, *columns, "--json", "--save", model)
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert sorted(report["classes"]) == ["neg", "pos"]
    assert report["self_training"]["pseudo_labeled"] == 2  # both texts of the pool's review column
    # `--unlabeled -` stays a text a line, as its help says, whatever column --data is read from
    lines = run("train", "--data", reviews, "--unlabeled", "-", *columns, "--json", "--save", model, input="meh\nwow\n")
    assert lines.exit_code == 0 and json.loads(lines.stdout)["self_training"]["pool"] == 2, lines.output
    evaluated = run("eval", "--load", model, "--data", rows, "--text-column", "BODY", "--label-column", "stars")
    assert evaluated.exit_code == 0, evaluated.output
    missing = run("eval", "--load", model, "--data", rows, "--text-column", "review", "--label-column", "stars")
    assert missing.exit_code == 2 and missing.stderr.strip() == (
        f"error: {rows}:1: no column 'review' for --text-column (found: 'body', 'stars')"
    )
    same = run("eval", "--load", model, "--data", rows, "--text-column", "body", "--label-column", "Body")
    assert same.exit_code == 2
    assert (
        same.stderr.strip()
        == "error: --text-column and --label-column both name 'body': a text cannot be its own label"
    )
    twice = run("train", "--classes", "-", "--data", "-", "--save", model, input="cat: meow\ndog: woof\n")
    assert twice.exit_code == 2 and "give '-' to one --classes, --data or --unlabeled" in twice.stderr


def test_a_link_is_written_where_it_leads_and_a_pipe_is_sent_the_file_never_replaced(pets_bundle, tmp_path):
    """`examples export --output /dev/stdout` replaced the machine's /dev/stdout link with a regular file (as root,
    as in a container): a write renamed a new file over the link. Here a link to a pipe stands in for /dev/stdout,
    and a link to a bundle for `models/current.model`."""
    import shutil
    import socket
    import threading

    db = ["--db", tmp_path / "db.sqlite"]
    run_id = jsonl(run("classify", "--load", pets_bundle, *db, "squeak").stdout)[0]["run_id"]
    assert run("feedback", run_id, "--correction", "cat", *db).exit_code == 0
    fifo, link = tmp_path / "pipe", tmp_path / "stdout"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    exported = run("examples", "export", "--model", pets_bundle, *db, "--output", link)
    reader.join(60)
    assert exported.exit_code == 0, exported.output
    assert [r["text"] for r in jsonl(received[0].decode())] == ["squeak"]
    assert link.is_symlink() and fifo.is_fifo()

    real, current = tmp_path / "v1.model", tmp_path / "current.model"
    shutil.copy(pets_bundle, real)
    current.symlink_to(real.name)
    retrained = run("retrain", "--load", current, *db)
    assert retrained.exit_code == 0, retrained.output
    assert current.is_symlink() and os.readlink(current) == real.name  # the link stays, its file is the new one
    assert "squeak" in [e.text for e in Classifier.load(real).examples]

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        refused = run("train", *PETS, "--save", tmp_path / "sock")
    assert refused.exit_code == 2 and "is a device or a socket, not a file" in refused.stderr
    assert (tmp_path / "sock").is_socket()
