"""``llmclf train``: class descriptions and examples in, a .model bundle out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..classifier import Classifier
from ..datafiles import iter_labelled, read_class_file
from ..errors import InputError
from ._common import friendly_errors, notice, out, setup_logging, split_pair


def collect_classes(class_flags: list[str], classes_file: Path | None) -> dict[str, str]:
    classes: dict[str, str] = {}
    pairs = [split_pair(v, "--class", "description") for v in class_flags]
    if classes_file is not None:
        pairs = list(read_class_file(classes_file).items()) + pairs
    for name, description in pairs:
        if name in classes:
            raise InputError(f"class {name!r} is given twice")
        classes[name] = description
    return classes


def collect_examples(train_flags: list[str], data_files: list[Path]) -> list[tuple[str, str]]:
    pairs = [split_pair(v, "--train", "example text") for v in train_flags]
    for path in data_files:
        pairs.extend((label, text) for text, label in iter_labelled(path))
    return pairs


@friendly_errors
def train(
    class_: list[str] = typer.Option(
        [], "--class", "-c", metavar="NAME:DESCRIPTION", help="A class and what it means (repeatable)."
    ),
    train_: list[str] = typer.Option(
        [], "--train", "-t", metavar="NAME:TEXT", help="An example for a class (repeatable)."
    ),
    classes_file: Path | None = typer.Option(
        None, "--classes", metavar="FILE", help="YAML or JSON mapping of class name to description."
    ),
    data: list[Path] = typer.Option(
        [], "--data", metavar="FILE", help="CSV or JSONL of labelled examples (text,label); repeatable."
    ),
    save: Path = typer.Option(
        Path("models/classifier.model"), "--save", "-s", help="Where to write the .model bundle."
    ),
    embedder: str | None = typer.Option(None, "--embedder", help="Embedder id (default: the embedded MiniLM)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens."),
) -> None:
    """Train a classifier from class descriptions and/or examples."""
    setup_logging(verbose)
    classes = collect_classes(class_, classes_file)
    examples = collect_examples(train_, data)
    names = set(classes) | {label for label, _ in examples}
    if len(names) < 2:
        raise InputError(f"need at least two classes, got {len(names)}: give more --class or --train")

    clf = Classifier(embedder)
    for name, description in classes.items():
        clf.add_class(name, description)
    by_class: dict[str, list[str]] = {}
    for label, text in examples:
        by_class.setdefault(label, []).append(text)
    for label, texts in by_class.items():
        clf.add_data_to_class(label, texts)
        if label not in classes:
            notice(f"class {label!r} has no description; it is learned from its {len(texts)} example(s) only")

    notice("no LLM configured: training from class descriptions and your examples only")
    clf.prompt_train()
    path = clf.save(save)
    print_summary(clf)
    out.print(f"saved {path} ({len(clf.classes_)} classes, {len(clf.examples)} examples)")


def print_summary(clf: Classifier) -> None:
    report = clf.report
    if report is None:
        return
    sources = ["description", "user", "synthetic", "feedback"]
    shown = [s for s in sources if any(c.get(s) for c in report.counts.values())]
    table = Table(title="training examples per class", title_justify="left")
    table.add_column("class")
    for s in shown:
        table.add_column(s, justify="right")
    for name, counts in report.counts.items():
        table.add_row(name, *(str(counts.get(s, 0)) for s in shown))
    out.print(table)
