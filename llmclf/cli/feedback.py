"""``llmclf feedback``, ``llmclf examples`` and ``llmclf retrain``: from users' answers to a better head."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ..atomic import atomic_writer, refuse_to_replace
from ..bundle import check_bundle_target, read_manifest
from ..classifier import Classifier
from ..errors import InputError
from ..feedback import RunLog, model_target, set_target
from ..jsonlines import json_line
from ..store import Store
from ._common import Command, Group, Steps, friendly_errors, local_file, need, notice, out, pick, say, write_jsonl
from .tables import Table

DB_OPTION = typer.Option(None, "--db", help="SQLite database (default: llmclf.db in the user data dir).")


@friendly_errors
def feedback(
    run_id: str = typer.Argument(..., help="The run id printed with the prediction."),
    score: int | None = typer.Option(None, "--score", min=0, max=1, help="1: the prediction was right; 0: wrong."),
    correction: list[str] = typer.Option(
        [], "--correction", help="The right label; repeat it to give every tag of a multi-label (--multi) tag run."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was stored as JSON."),
    db: Path | None = DB_OPTION,
) -> None:
    """Tell llmclf whether a prediction was right, or what it should have been."""
    given = correction[0] if len(correction) == 1 else correction or None
    outcome = RunLog(Store(db)).record(run_id, score=score, correction=given)
    run_id = outcome.run_id  # as written: a pasted one may have carried spaces or capitals
    if outcome.replaced:
        notice(f"run {run_id} already had feedback; replaced the earlier {' and '.join(outcome.replaced)}")
    if as_json:
        write_jsonl([{"run_id": run_id, "stored": True, "replaced": outcome.replaced, "label": outcome.label}])
        return
    if isinstance(outcome.label, list):
        say(f"stored feedback for {run_id}; it adds these examples: {', '.join(outcome.label)}")
        return
    label = outcome.label if outcome.label is not None else "(none: a score of 0 without a correction)"
    say(f"stored feedback for {run_id}; it adds this example: {label}")


MODEL_OPTION = typer.Option(None, "--load", "-l", help="A .model bundle.")
OLD_MODEL_OPTION = typer.Option(None, "--model", hidden=True, help="Old spelling of --load.")
SET_OPTION = typer.Option(None, "--set", help="A tag set.")


def _target(model: Path | None, tag_set: str | None) -> str:
    if (model is None) == (tag_set is None):
        raise InputError("give exactly one of --load MODEL or --set TAG_SET")
    if model is not None:
        model_id = read_manifest(model).get("model_id")
        if not model_id:
            raise InputError(f"{model} has no model id (made by an older llmclf): retrain it first")
        return model_target(model_id)
    return set_target(tag_set)


examples_app = typer.Typer(cls=Group, help="The dataset that feedback has made.", no_args_is_help=True)


@examples_app.command("list", cls=Command)
@friendly_errors
def examples_list(
    load: Path | None = MODEL_OPTION,
    tag_set: str | None = SET_OPTION,
    as_json: bool = typer.Option(False, "--json", help="JSON Lines: {text, label, source, meta}."),
    db: Path | None = DB_OPTION,
    model: Path | None = OLD_MODEL_OPTION,
) -> None:
    """Show the feedback examples of a model or tag set."""
    rows = RunLog(Store(db)).dataset(_target(pick(load, model), tag_set))
    if as_json:
        write_jsonl(e.to_dict() for e in rows)
        return
    table = Table(title=f"{len(rows)} feedback example(s)", title_justify="left")
    for col in ("text", "label", "run id"):
        table.add_column(col, overflow="fold")
    for e in rows:
        table.add_row(e.text, e.label, e.meta.get("run_id", ""))
    out.print(table)


@examples_app.command("export", cls=Command)
@friendly_errors
def examples_export(
    load: Path | None = MODEL_OPTION,
    tag_set: str | None = SET_OPTION,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write JSONL here (atomically) instead of stdout."),
    db: Path | None = DB_OPTION,
    model: Path | None = OLD_MODEL_OPTION,
) -> None:
    """Export the feedback examples as JSONL ({text, label, source, meta})."""
    local_file(output, "--output")
    if output is not None and output.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq", ".model", ".yaml", ".yml"):
        # JSON Lines went into data.csv: over the user's own training data, as text no CSV reader takes
        raise InputError(f"--output writes JSON Lines: name it .jsonl, not {output.name}")
    if output is not None:
        refuse_to_replace(output, is_an_export, "an examples export", "--output")
    rows = RunLog(Store(db)).dataset(_target(pick(load, model), tag_set))
    data = "".join(json_line(e.to_dict()) for e in rows)
    if output is None:
        sys.stdout.write(data)
        return
    with atomic_writer(output) as fh:
        fh.write(data.encode("utf-8"))
    notice(f"wrote {len(rows)} example(s) to {output}")


def is_an_export(path: Path) -> bool:
    """Whether ``path`` starts as `examples export` writes: a JSON object with text, label and source."""
    with open(path, "rb") as fh:
        first = json.loads(fh.readline(1_000_000))
    return isinstance(first, dict) and {"text", "label", "source"} <= first.keys()


@friendly_errors
def retrain(
    load: Path | None = typer.Option(None, "--load", "-l", help="The .model bundle to retrain."),
    save: Path | None = typer.Option(
        None, "--save", "-s", help="Where to write it (default: over --load, atomically)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what changed as JSON."),
    keep_vectors: bool = typer.Option(False, "--keep-vectors", help="Store the examples' embeddings in the bundle."),
    with_logged_texts: bool = typer.Option(
        False,
        "--with-logged-texts",
        help="Self-train on the texts this model classified (from the run log), pseudo-labels chosen afresh.",
    ),
    db: Path | None = DB_OPTION,
    model: Path | None = typer.Argument(None, metavar="MODEL", help="The bundle (same as --load)."),
) -> None:
    """Add the feedback examples to the bundle's own, refit the head, save atomically.

    Only texts never embedded before are embedded: the rest come from the bundle's
    vectors (--keep-vectors) or the on-disk vector cache.
    """
    model = need(load, "--load", model)
    if save is not None:
        check_bundle_target(local_file(save, "--save"))
    clf = Classifier.load(model)
    adds_vectors = keep_vectors and not clf.keep_vectors
    clf.keep_vectors = clf.keep_vectors or keep_vectors
    log = RunLog(Store(db))
    feedback_examples = log.dataset(model_target(clf.model_id))
    logged = log.texts(model_target(clf.model_id)) if with_logged_texts else None
    if logged is not None and not logged:
        raise InputError(f"no logged texts for {model}: classify with it (without --no-log) first")
    pending = clf.feedback_change(feedback_examples)
    same = not pending["added"] and not pending["removed"]
    if same and logged is None and save is None and not adds_vectors:  # no refit, no rewrite, no history entry
        if as_json:
            write_jsonl([{"path": str(model), **pending, "examples": len(clf.examples), "unchanged": True}])
        else:
            held = pending["feedback_examples"]
            say(f"{model} is up to date: no new or withdrawn feedback ({held} feedback example(s)); unchanged")
        return
    if save is None and not model.is_file():  # read from a pipe (--load <(...)): nowhere to write it back to
        raise InputError(f"--load {model} is not a file to write the retrained bundle back to: give --save")
    with Steps("retraining") as steps:
        clf.on_progress = steps.advance
        change = clf.retrain_with_feedback(feedback_examples, unlabeled=logged)
    path = clf.save(save or model)
    for note in clf.report.notes:
        if note.startswith("self-training reads"):  # a sample of the logged texts, not all of them
            notice(note)
    if as_json:
        write_jsonl([{"path": str(path), **change, "examples": len(clf.examples)}])
        return
    st = change.get("self_training") if with_logged_texts else None
    pseudo = f", {st['pseudo_labeled']} pseudo-labelled from {st['pool']} logged text(s)" if st else ""
    say(
        f"retrained {path}: {change['feedback_examples']} feedback example(s) "
        f"({change['added']} new, {change['removed']} withdrawn){pseudo}, {len(clf.examples)} examples in all"
    )
