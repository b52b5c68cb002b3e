"""Texts holding U+0085 (NEL), U+2028 or U+2029: str.splitlines() breaks lines there, JSON does not."""

import json

from typer.testing import CliRunner

from llmclf import Classifier
from llmclf.bundle import read_bundle
from llmclf.cli import app
from llmclf.jsonlines import json_line, split_lines
from llmclf.store import read_tag_file

from .test_bundle_hardening import members_of, write

ODD = ["milk\x85cream", "bark\u2028bark", "purr\u2029purr", "carriage\rreturn"]


def test_json_line_is_one_line_for_every_splitter():
    line = json_line({"text": "".join(ODD)})
    assert line.count("\n") == 1 and len(line.splitlines()) == 1
    assert json.loads(line)["text"] == "".join(ODD)


def test_bundle_with_such_texts_saves_and_loads(tmp_path):
    clf = Classifier()
    clf.add_data_to_class("cat", ODD[:2])
    clf.add_data_to_class("dog", ODD[2:])
    clf.prompt_train({"cat": "Cats meow.", "dog": "Dogs bark."})
    loaded = Classifier.load(clf.save(tmp_path / "odd.model"))
    assert {e.text for e in loaded.examples} >= set(ODD)


def test_bundle_written_with_raw_line_separators_still_loads(pets_bundle, tmp_path):
    """Bundles saved before the escaping hold these characters raw: still one example per line."""
    members = members_of(pets_bundle)
    raw = "".join(json.dumps({"text": t, "label": "cat", "source": "user"}, ensure_ascii=False) + "\n" for t in ODD)
    members["examples.jsonl"] = members["examples.jsonl"] + raw.encode()
    bundle = read_bundle(write(tmp_path / "raw.model", members))
    assert [e.text for e in bundle.examples[-4:]] == ODD


def test_classify_output_stays_one_record_a_line(pets_bundle, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(ODD[:3]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["classify", "--load", str(pets_bundle), "--no-log", "--input", str(path)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in records] == ODD[:3]


def test_tag_csv_with_a_line_separator_inside_a_field(tmp_path):
    path = tmp_path / "tags.csv"
    path.write_text('tag_id,name,instructions\n1,email,"mail\x85about it"\n2,phone,"a call\nover two lines"\n')
    assert read_tag_file(path) == [("1", "email", "mail\x85about it"), ("2", "phone", "a call\nover two lines")]


def test_split_lines_splits_on_newlines_only():
    assert split_lines("a\x85b\r\nc\u2028d\n") == ["a\x85b", "c\u2028d", ""]
