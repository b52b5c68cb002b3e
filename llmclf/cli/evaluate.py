"""``llmclf eval``: how good is a bundle on labelled data?"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..classifier import Classifier
from ..datafiles import iter_labelled, shown
from ..errors import InputError
from ..evaluation import EvalReport, evaluate, label_case_hint
from ._common import Steps, column_option, friendly_errors, need, out, say, warn
from .tables import Table


@friendly_errors
def eval_(
    data: Path | None = typer.Option(
        None, "--data", "-d", help="CSV, JSONL, JSON or Parquet with text and label columns."
    ),
    load: Path = typer.Option(..., "--load", "-l", help="The .model bundle to evaluate."),
    text_column: str | None = column_option("text"),
    label_column: str | None = column_option("label"),
    file: Path | None = typer.Argument(None, hidden=True, help="The data file (old spelling of --data)."),
    threshold: float | None = typer.Option(
        None, "--threshold", min=0.0, max=1.0, help="Report the abstain rate at this top probability."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    per_class: int = typer.Option(30, "--per-class", min=0, help="Rows of the per-class table (worst F1 first)."),
) -> None:
    """Accuracy, macro-F1, per-class scores, confusions and calibration (ECE) on labelled data."""
    file = need(data, "--data", file)
    rows = list(iter_labelled(file, text_column, label_column))
    if not rows:
        raise InputError(f"{shown(file)} holds no labelled rows")
    clf = Classifier.load(load)
    with Steps("evaluating", len(rows)) as steps:
        clf.on_progress = steps.advance
        report = evaluate(clf, [t for t, _ in rows], [y for _, y in rows], threshold=threshold)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        render(report, per_class)
    if report.unknown_labels:
        names = ", ".join(f"{k} ({v})" for k, v in sorted(report.unknown_labels.items()))
        warn(
            f"{sum(report.unknown_labels.values())} row(s) have labels the model does not know, counted as errors: {names}"
            + label_case_hint(list(report.unknown_labels), clf.class_names)
        )


def render(report: EvalReport, per_class: int) -> None:
    say(
        f"n={report.n}  accuracy {report.accuracy:.3f}  macro-F1 {report.macro_f1:.3f}  "
        f"ECE {report.ece:.3f}"
        + (
            f"  abstain {report.abstain_rate:.1%} at {report.threshold}"
            + (
                f" (accuracy when answered {report.accuracy_when_answered:.3f})"
                if report.accuracy_when_answered is not None
                else ""
            )
            if report.threshold is not None
            else ""
        )
    )
    table = Table(title="per class (worst F1 first)", title_justify="left")
    for col in ("class", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for c in sorted(report.per_class, key=lambda c: (c.f1, c.label))[:per_class]:
        table.add_row(c.label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.support))
    out.print(table)
    if report.confused:
        table = Table(title="most confused (true -> predicted)", title_justify="left")
        table.add_column("true")
        table.add_column("predicted")
        table.add_column("count", justify="right")
        for true, pred, count in report.confused:
            table.add_row(true, pred, str(count))
        out.print(table)
    table = Table(title="reliability (15 bins of top probability)", title_justify="left")
    for col in ("bin", "count", "mean confidence", "accuracy"):
        table.add_column(col, justify="right")
    for b in report.reliability:
        if b.count:
            table.add_row(f"{b.lower:.2f}-{b.upper:.2f}", str(b.count), f"{b.confidence:.3f}", f"{b.accuracy:.3f}")
    out.print(table)
