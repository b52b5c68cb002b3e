"""``llmclf train``: class descriptions and examples in, a .model bundle out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from ..blank import is_blank
from ..bundle import check_bundle_target
from ..calibration import summary as calibration_summary
from ..classfiles import read_class_file
from ..classifier import Classifier
from ..datafiles import iter_labelled, iter_texts, shown
from ..errors import InputError, LLMError
from ..examples import Source
from ..finetune import INSTALL as FINETUNE_INSTALL
from ..finetune import PAIRS as FINETUNE_PAIRS
from ..generation import MAX_EXAMPLES_PER_CLASS, NoSyntheticData
from ..head import MAX_TFIDF_WEIGHT, valid_tfidf_weight
from ..llm.cache import GenerationCache
from ..llm.config import HOW_TO_CONFIGURE, LLMConfig
from ._common import (
    Steps,
    column_option,
    friendly_errors,
    local_file,
    notice,
    out,
    say,
    setup_logging,
    split_pair,
    warn,
    write_jsonl,
)
from .llm_options import LLMOptions, llm_options
from .tables import Table


def collect_classes(class_flags: list[str], classes_file: Path | None) -> dict[str, str]:
    classes: dict[str, str] = {}
    pairs = [split_pair(v, "--class", "description", "--classes") for v in class_flags]
    if classes_file is not None:
        pairs = list(read_class_file(classes_file).items()) + pairs
    for name, description in pairs:
        if name in classes:
            raise InputError(f"class {name!r} is given twice")
        classes[name] = description
    return classes


def collect_examples(
    train_flags: list[str], data_files: list[Path], text_column: str | None = None, label_column: str | None = None
) -> list[tuple[str, str]]:
    pairs = [split_pair(v, "--train", "example text", "--data") for v in train_flags]
    for path in data_files:
        rows = [(label, text) for text, label in iter_labelled(path, text_column, label_column)]
        if not rows:  # an empty export trained from the descriptions alone without a word
            raise InputError(f"{shown(path)} holds no labelled rows (--data)")
        pairs.extend(rows)
    return pairs


@friendly_errors
@llm_options
def train(
    class_: list[str] = typer.Option(
        [], "--class", "-c", metavar="NAME:DESCRIPTION", help="A class and what it means (repeatable)."
    ),
    train_: list[str] = typer.Option(
        [], "--train", "-t", metavar="NAME:TEXT", help="An example for a class (repeatable)."
    ),
    classes_file: Path | None = typer.Option(
        None,
        "--classes",
        metavar="FILE",
        help="YAML or JSON mapping of class name to description, or a CSV or JSONL of name,description rows.",
    ),
    data: list[Path] = typer.Option(
        [],
        "--data",
        "-d",
        metavar="FILE",
        help="CSV, JSONL, JSON or Parquet of labelled examples (text,label); '-' reads CSV or JSONL from stdin; repeatable.",
    ),
    unlabeled: list[Path] = typer.Option(
        [],
        "--unlabeled",
        "-u",
        metavar="FILE",
        help="Unlabelled texts (a text per line, or CSV/JSONL/JSON/Parquet with a text column; '-': stdin, a text per line) for self-training (a random 1,000 of them past 1,000); repeatable.",
    ),
    text_column: str | None = column_option("text"),
    label_column: str | None = column_option("label"),
    save: Path = typer.Option(
        Path("models/classifier.model"), "--save", "-s", help="Where to write the .model bundle."
    ),
    embedder: str | None = typer.Option(None, "--embedder", help="Embedder id (default: the embedded MiniLM)."),
    llm: LLMOptions = LLMOptions(),
    examples_per_class: int = typer.Option(
        20, "--examples-per-class", "-n", min=1, max=MAX_EXAMPLES_PER_CLASS, help="Synthetic examples per class."
    ),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Classes generated at once."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the generation cache."),
    tfidf_weight: str = typer.Option(
        "auto",
        "--tfidf-weight",
        metavar="auto|NUMBER",
        help="Weight of the hybrid head's TF-IDF half: auto (grows with examples per class), a number, 0 for none.",
    ),
    calibrate: bool = typer.Option(
        False,
        "--calibrate",
        help="Temperature-scale probabilities (leave-one-out or 10-fold CV, with a prior for little data).",
    ),
    finetune: bool = typer.Option(
        False,
        "--finetune",
        help=f"Fine-tune MiniLM on the examples first (contrastive; minutes on a CPU; {escape(FINETUNE_INSTALL)}).",
    ),
    finetune_pairs: int | None = typer.Option(
        None,
        "--finetune-pairs",
        min=16,
        help=f"Text pairs --finetune trains on (default {FINETUNE_PAIRS:,}): fewer is faster, more helps little data.",
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail, and save nothing, if any class got no synthetic data."),
    no_llm: bool = typer.Option(
        False, "--no-llm", help="Train without an LLM, even when the environment configures one."
    ),
    keep_vectors: bool = typer.Option(
        False,
        "--keep-vectors",
        help="Store the examples' embeddings (float16) in the bundle, for retraining elsewhere.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens."),
    as_json: bool = typer.Option(False, "--json", help="Print the training report as JSON on stdout."),
) -> None:
    """Train a classifier from class descriptions and/or examples."""
    setup_logging(verbose)
    check_bundle_target(local_file(save, "--save"))  # before any training: a --save over the user's file is refused
    replacing = save.is_file() and save.stat().st_size > 0  # a bundle, or check_bundle_target had refused it
    if [str(p) for p in [*data, *unlabeled, classes_file]].count("-") > 1:
        raise InputError("standard input can be read once: give '-' to one --classes, --data or --unlabeled, not more")
    classes = collect_classes(class_, classes_file)
    examples = collect_examples(train_, data, text_column, label_column)
    names = set(classes) | {label for label, _ in examples}
    if len(names) < 2:
        raise InputError(f"need at least two classes, got {len(names)}: give more --class or --train")

    if finetune_pairs is not None and not finetune:
        raise InputError("--finetune-pairs sets how --finetune trains: give --finetune too")
    pool = read_unlabeled(unlabeled, text_column)
    clf = Classifier(
        embedder,
        calibrate=calibrate,
        keep_vectors=keep_vectors,
        tfidf_weight=parse_weight(tfidf_weight),
        finetune=finetune,
        finetune_pairs=finetune_pairs or FINETUNE_PAIRS,
    )
    for name, description in classes.items():
        clf.add_class(name, description)
    by_class: dict[str, list[str]] = {}
    for label, text in examples:
        by_class.setdefault(label, []).append(text)
    for label, texts in by_class.items():
        clf.add_data_to_class(label, texts)
    bare = [f"{label} ({len(texts)})" for label, texts in by_class.items() if label not in classes]
    if bare:
        shown = ", ".join(bare[:10]) + (f" and {len(bare) - 10} more" if len(bare) > 10 else "")
        notice(f"{len(bare)} class(es) have no description and are learned from their examples only: {shown}")

    config = None if no_llm else llm.resolve()
    if no_llm and (llm.base_url or llm.model or llm.api_key or llm.mode):
        raise InputError("--no-llm trains without an LLM: give it or the --llm-* options, not both")
    if no_llm:
        notice("--no-llm: training from class descriptions and your examples only")
    elif config is None:
        notice(
            f"no LLM configured: training from class descriptions and your examples only; to add one, {HOW_TO_CONFIGURE}"
        )
    if config is None:
        with Steps("embedding examples") as steps:
            clf.on_progress = steps.advance
            if finetune:
                clf.on_finetune_progress = steps.add("fine-tuning MiniLM (pairs)")
            clf.prompt_train(unlabeled=pool)
    else:
        from ..llm.client import LLMTimeout, LLMUnreachable
        from ..llm.generate import LLMGenerator  # pydantic and instructor: only when an LLM is used

        with Steps("LLM writing examples", len(clf.descriptions)) as steps:
            clf.generator = LLMGenerator(
                config,
                clf.embedder_,
                examples_per_class=examples_per_class,
                concurrency=concurrency,
                cache=None if no_cache else GenerationCache(),
                on_class_done=lambda _name: steps.advance(1),
            )
            if finetune:
                clf.on_finetune_progress = steps.add("fine-tuning MiniLM (pairs)")
            clf.on_progress = steps.add("embedding examples")
            try:
                clf.prompt_train(unlabeled=pool)
            except (LLMTimeout, LLMUnreachable, NoSyntheticData) as exc:  # the model looked up at /models, or every
                raise LLMError(f"{exc}: nothing saved{NO_LLM_HINT}") from None  # class's calls, failed
        report_generation(clf, config)
        generation = clf.report.generation
        if strict and generation.failed:
            raise LLMError(f"no synthetic data for {', '.join(sorted(generation.failed))}; nothing saved (--strict)")
    path = clf.save(save)
    if replacing:  # the default --save path was replaced without a word
        notice(f"replaced the bundle that was at {path}")
    for note in clf.report.notes:
        if note.startswith(
            ("calibration", "self-training", "fine-tuned", "labels disagree", "classes alike", "TF-IDF weight")
        ):
            notice(note)
    if clf.calibration and clf.calibration.get("temperature"):
        notice(calibration_summary(clf.calibration))
    if as_json:
        write_jsonl([train_report(clf, path)])
        return
    print_summary(clf)
    say(f"saved {path} ({len(clf.class_names)} classes, {len(clf.examples)} examples)")


def parse_weight(value: str) -> float | str:
    """``auto`` or a finite number >= 0, else a one-line error naming the flag."""
    text = value.strip().lower()
    try:
        weight = text if text == "auto" else float(text)
    except ValueError:
        weight = None
    if not valid_tfidf_weight(weight):
        raise InputError(f"--tfidf-weight must be auto or a number from 0 to {MAX_TFIDF_WEIGHT:g}, not {value!r}")
    return weight


def read_unlabeled(paths: list[Path], text_column: str | None = None) -> list[str] | None:
    """The texts of every --unlabeled file (blank ones skipped; a table's ``text_column``, a plain file's lines, and
    standard input's lines, as --unlabeled's help says, whatever column --data's tables are read from); None when no
    file is given."""
    if not paths:
        return None
    texts = [
        t for path in paths for t in iter_texts(path, None if str(path) == "-" else text_column) if not is_blank(t)
    ]
    if not texts:
        raise InputError(f"no text in {', '.join(map(str, paths))} (--unlabeled)")
    return texts


def train_report(clf: Classifier, path: Path) -> dict:
    generation = clf.report.generation
    return {
        "path": str(path),
        "model_id": clf.model_id,
        "classes": clf.class_names,
        "examples": len(clf.examples),
        "counts": clf.report.counts,
        "llm": None
        if generation is None
        else {
            "model": generation.model,
            "calls": generation.calls,
            "cached": generation.cached,
            "failed": generation.failed,
            "short": generation.short,
        },
        "calibration": clf.calibration,
        "self_training": clf.self_training,
        "finetune": clf.finetuned,
        "notes": clf.report.notes,
    }


NO_LLM_HINT = "; start the endpoint or fix its settings, or train without it: --no-llm"


def report_generation(clf: Classifier, config: LLMConfig) -> None:
    generation = clf.report.generation
    made = sum(1 for e in clf.examples if e.source is Source.SYNTHETIC)
    notice(
        f"LLM {generation.model} at {config.endpoint}: {made} synthetic examples, "
        f"{generation.calls} LLM call(s), {generation.cached} reply(ies) from cache"
    )
    for name, reason in sorted(generation.failed.items()):
        warn(f"class {name!r} got no synthetic data: {reason}")
    for name, got in sorted(generation.short.items()):
        notice(f"class {name!r} got {got} synthetic examples, fewer than asked")


def print_summary(clf: Classifier) -> None:
    report = clf.report
    if report is None:
        return
    sources = [s.value for s in Source]
    shown = [s for s in sources if any(c.get(s) for c in report.counts.values())]
    table = Table(title="training examples per class", title_justify="left")
    table.add_column("class")
    for s in shown:
        table.add_column(s, justify="right")
    for name, counts in report.counts.items():
        table.add_row(name, *(str(counts.get(s, 0)) for s in shown))
    out.print(table)
