"""``llmclf classify``: texts in, predictions with probabilities out.

Input streams in batches, so memory stays bounded however long it is. On a
terminal the output is a table; piped, or with ``--json``, it is JSON Lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from ..atomic import refuse_to_replace
from ..blank import is_blank
from ..classifier import Classifier, Prediction
from ..datafiles import Row, check_columns, check_readable, iter_text_rows, not_utf8
from ..embedding import MAX_THREADS
from ..errors import InputError, StoreError
from ..feedback import RunLog, few_shot_for, logging_enabled, model_target
from ..llm.config import HOW_TO_CONFIGURE
from ..parquet_io import classify_parquet, classify_rows_to_parquet, count_rows, is_our_output, is_parquet
from ..store import Store
from ..tagging import stopped_answering
from ._common import (
    SHOTS_HELP,
    Steps,
    column_option,
    err,
    friendly_errors,
    local_file,
    notice,
    out,
    pick,
    safe,
    stdin_is_piped,
    warn,
)
from .live_batches import live_batches
from .llm_options import LLMOptions, llm_options
from .tables import Table


def gather_texts(
    texts: list[str],
    data: list[str],
    input_files: list[Path],
    text_column: str | None = None,
    id_column: str | None = None,
    verb: str = "classify",
) -> Iterator[Row]:
    """Arguments and --data first (checked up front), then files, then stdin.

    Arguments are checked before anything is printed; a row of a file or of
    stdin that cannot be read comes through as ``(None, why)``.
    """
    given = [*texts, *data]
    wants_stdin = "-" in given or (not given and not input_files and stdin_is_piped())
    literal = [t for t in given if t != "-"]
    for i, text in enumerate(literal, 1):
        if not_utf8(text):
            raise InputError(f"text {i} is not UTF-8")
        if is_blank(text):
            raise InputError(f"text {i} is empty")
        if _names_a_file(text):
            notice(f"{text!r} is taken as a text; to {verb} what the file holds, use --input {text!r}")
    columns = bool(text_column or id_column)
    if columns and not input_files and not wants_stdin:  # they were ignored without a word
        flag = "--text-column" if text_column else "--id-column"
        raise InputError(f"{flag} names a column of an --input file or of CSV or JSON Lines on stdin")
    for path in input_files:  # fail on a missing file or column before printing anything
        check_readable(path)
        check_columns(path, text_column, id_column)
    if not literal and not input_files and not wants_stdin:
        raise InputError(f"no texts to {verb}: give them as arguments, with --input FILE, or on stdin")
    sources: list[Iterable[Row]] = [
        [(t, None, None) for t in literal],
        *(iter_text_rows(p, text_column, id_column) for p in input_files),
    ]
    if wants_stdin:  # with a column named, stdin is a table (CSV or JSON Lines); else a text a line
        sources.append(iter_text_rows("-", text_column, id_column))
    return itertools.chain.from_iterable(sources)


def _names_a_file(text: str) -> bool:
    """Whether an argument text is the path of a file (``classify --load m texts.txt`` meant ``--input``)."""
    if len(text) > 1024 or "\n" in text:
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # too long a name, a NUL, a bad byte
        return False


def stdin_as_argument(input_files: list[Path], texts: list[str] | None) -> tuple[list[Path], list[str]]:
    """``--input -`` reads stdin, as the argument ``-`` does (it was 'file not found: -')."""
    dash = [p for p in input_files if str(p) == "-"]
    files = [p for p in input_files if str(p) != "-"]
    return files, [*(texts or []), *(["-"] if dash else [])]


def count_texts(texts: list[str], data: list[str], input_files: list[Path]) -> int | None:
    """How many texts there are, for the progress bar: None when stdin is read (it cannot be counted first)."""
    given = [*texts, *data]
    if "-" in given or (not given and not input_files and stdin_is_piped()) or not err.is_terminal:
        return None
    if not all(Path(p).is_file() for p in input_files):
        return None  # a FIFO or <(...) can be read only once
    try:
        return len(given) + sum(_count_rows(p) for p in input_files)
    except (InputError, OSError):
        return None  # the real read reports it


def _count_rows(path: Path) -> int:
    if is_parquet(path):
        return count_rows(path)
    return sum(1 for _ in iter_text_rows(path))


def render_table(predictions: list[Prediction | str], top_n: int) -> Table:
    table = Table(show_lines=False)
    table.add_column("text", overflow="fold", max_width=60)
    table.add_column("prediction", style="bold")
    table.add_column(f"top {top_n} probabilities", overflow="fold")
    # without a run log (--no-log, or it could not open) there are no ids: no empty column taking the width
    ids = any(not isinstance(p, str) and p.extra.get("run_id") for p in predictions)
    if ids:
        table.add_column("run id", style="dim")
    for p in predictions:
        if isinstance(p, str):  # an input row that could not be read
            table.add_row("", safe(f"error: {p}", "red"), "", *[""] * ids)
            continue
        probs = "  ".join(f"{name} {value:.3f}" for name, value in list(p.probabilities.items())[:top_n])
        label = safe(p.label) if p.label is not None else Text("(below threshold)", style="dim")
        table.add_row(p.text, label, probs, *[p.extra.get("run_id", "")] * ids)
    return table


@friendly_errors
@llm_options
def classify(
    texts: list[str] = typer.Argument(None, help="Texts to classify; '-' reads stdin, one text a line."),
    load: Path = typer.Option(..., "--load", "-l", help="The .model bundle to use."),
    data: list[str] = typer.Option([], "--data", "-d", hidden=True, help="A text to classify (old spelling)."),
    input_files: list[Path] = typer.Option(
        [], "--input", "-i", help="CSV/JSONL/JSON/Parquet with a text column, or a text file (repeatable)."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write Parquet here (atomically): a Parquet input's columns (else text, and id) plus the predictions.",
    ),
    text_column: str | None = column_option("text"),
    id_column: str | None = typer.Option(
        None, "--id-column", metavar="NAME", help="A column to carry into each record as 'id'."
    ),
    threads: int | None = typer.Option(
        None, "--threads", min=1, max=MAX_THREADS, help="onnxruntime threads (default: LLMCLF_THREADS, else all cores)."
    ),
    top_n: int | None = typer.Option(
        None, "--top-n", min=1, help="Keep only the N most likely classes (table default 3)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", min=0.0, max=1.0, help="Below this top probability, predict nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines even on a terminal."),
    batch_size: int = typer.Option(
        1024, "--batch-size", min=1, max=1_000_000, help="Texts read, sorted by length and embedded per batch."
    ),
    cascade_below: float | None = typer.Option(
        None, "--cascade-below", min=0.0, max=1.0, help="Send texts whose top probability is below this to the LLM."
    ),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="LLM calls at once (cascade)."),
    shots: int = typer.Option(5, "--shots", "-k", min=0, help=SHOTS_HELP),
    k: int | None = typer.Option(None, "--k", min=0, hidden=True),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log predictions (no run ids)."),
    db: Path | None = typer.Option(None, "--db", help="SQLite database for run logs (default: user data dir)."),
    llm: LLMOptions = LLMOptions(),
) -> None:
    """Classify texts with a trained bundle (optionally cascading unsure ones to an LLM).

    Output: a table on a terminal; JSON Lines when piped or with --json, one record a line.

    An input row that cannot be read (bad JSON, no text column, an empty text,
    bytes that are not UTF-8) gets an error record in its place and the rest are
    still classified; the exit status is then 1. Bad arguments stop everything
    before any output (exit 2).
    """
    k = pick(shots, k)
    input_files, texts = stdin_as_argument(input_files, texts)
    if output is not None or any(is_parquet(p) for p in input_files):
        if cascade_below is not None:  # it was ignored without a word
            raise InputError("--cascade-below works on JSON Lines output, not with --output or a Parquet --input")
        return classify_files(
            load, input_files, output, text_column, id_column, top_n, threshold, batch_size, threads, texts, data
        )
    stream = gather_texts(texts or [], data, input_files, text_column, id_column)
    total = count_texts(texts or [], data, input_files)
    config = None
    if cascade_below is not None:
        config = llm.resolve()
        if config is None:
            raise InputError(f"--cascade-below needs an LLM: {HOW_TO_CONFIGURE}")
    clf = Classifier.load(load, threads=threads)
    no_log = no_log or not logging_enabled()
    store = None if no_log and config is None else open_run_store(db)
    runs = None if no_log or store is None else RunLog(store)
    target = model_target(clf.model_id)
    cascade = None
    if config is not None:
        few_shot = few_shot_for(store, target, clf.embedder_, k) if k and store is not None else None
        cascade = CascadeCounter(config, concurrency, few_shot)
    jsonl = as_json or not out.is_terminal
    shown = top_n if jsonl else (top_n or 3)  # JSON carries every class unless --top-n; the table shows 3
    seen = bad = 0
    with Steps("classifying", total) as steps:
        clf.on_progress = steps.advance
        for batch in live_batches(stream, batch_size):
            seen += len(batch)
            good = [text for text, error, _ in batch if error is None]
            predictions = []
            if good and cascade is not None:
                predictions = cascade.run(clf, good, cascade_below, shown, threshold)
            elif good:
                predictions = clf.classify(good, threshold=threshold, top_n=shown)
            if runs is not None and predictions:
                records = [(p.text, p.label, p.probabilities) for p in predictions]
                try:
                    ids = runs.log("classify", target, str(load), clf.class_names, records)
                except StoreError as exc:  # a full disk lost every prediction of the run: they still come out
                    warn(f"run log unavailable from here on, so these predictions carry no run ids: {exc}")
                    runs = None
                else:
                    for p, run_id in zip(predictions, ids, strict=True):
                        p.extra["run_id"] = run_id
            answers = iter(predictions)
            merged = [next(answers) if error is None else error for _, error, _ in batch]
            if id_column:
                for item, (_, _, row_id) in zip(merged, batch, strict=True):
                    if isinstance(item, Prediction):
                        item.extra["id"] = row_id
            bad += len(batch) - len(good)
            if jsonl:
                steps.write_jsonl(
                    p.to_dict() if isinstance(p, Prediction) else error_record(p, row[2])
                    for p, row in zip(merged, batch, strict=True)
                )
            else:
                steps.print(render_table(merged, shown))
    if not seen:
        raise InputError("no texts to classify: the input held no non-blank line")
    if cascade is not None:
        notice(
            f"cascade: {cascade.sent} of {seen - bad} text(s) went to the LLM (top probability below {cascade_below})"
            + (f"; {cascade.failed} failed there and fell back to the head" if cascade.failed else "")
        )
    if bad:
        warn(f"{bad} of {seen} input row(s) could not be read; their records carry the error, the rest were classified")
        raise typer.Exit(1)


def error_record(why: str, row_id: Any = None) -> dict:
    record = {"text": None, "prediction": None, "probabilities": None, "error": why}
    return record | ({"id": row_id} if row_id is not None else {})


def classify_files(
    load, input_files, output, text_column, id_column, top_n, threshold, batch_size, threads, texts, data
) -> None:
    """Parquet (``--output``) or, from Parquet, JSON Lines out, batch by batch; no run log (bulk work)."""
    local_file(output, "--output")
    if output is not None and not is_parquet(output):
        raise InputError(
            f"--output writes Parquet: name it .parquet, not {output.name}"
            + (" (JSON Lines go to stdout: > FILE)" if output.suffix.lower() in (".jsonl", ".json", ".ndjson") else "")
        )
    if output is not None:
        refuse_to_replace(output, is_our_output, "Parquet that classify wrote", "--output")
    if not any(is_parquet(p) for p in input_files):
        return classify_rows_into(
            load,
            output,
            gather_texts(texts or [], data, input_files, text_column, id_column),
            id_column is not None,
            top_n,
            threshold,
            batch_size,
            threads,
            count_texts(texts or [], data, input_files),
        )
    if texts or data or len(input_files) != 1:
        raise InputError("a Parquet --input is read alone: no other --input or text arguments beside it")
    (path,) = input_files
    check_readable(path)
    clf = Classifier.load(load, threads=threads, inference_only=True)
    with Steps("classifying", _count_rows(path) if err.is_terminal else None) as steps:
        rows, bad = classify_parquet(
            clf,
            path,
            output,
            text_column=text_column or "text",
            id_column=id_column,
            top_k=top_n or 5,
            threshold=threshold,
            batch_size=batch_size,
            emit=None if output is not None else steps.write_jsonl,
            progress=steps.advance,
        )
    if output is not None:
        notice(f"wrote {rows} row(s) to {output}")
    if bad:
        warn(f"{bad} of {rows} row(s) had no usable text; their 'error' column says why")
        raise typer.Exit(1)


def classify_rows_into(load, output, rows, with_id, top_n, threshold, batch_size, threads, total) -> None:
    """Texts from arguments, text files, CSV, JSONL or stdin into Parquet at ``output``."""
    clf = Classifier.load(load, threads=threads, inference_only=True)
    with Steps("classifying", total) as steps:
        n, bad = classify_rows_to_parquet(
            clf,
            rows,
            output,
            with_id=with_id,
            top_k=top_n or 5,
            threshold=threshold,
            batch_size=batch_size,
            progress=steps.advance,
        )
    notice(f"wrote {n} row(s) to {output}")
    if bad:
        warn(f"{bad} of {n} row(s) could not be read; their 'error' column says why, the rest were classified")
        raise typer.Exit(1)


def open_run_store(db: Path | None) -> Store | None:
    """The run log; if the default one cannot be opened (say, a read-only home), classify still works."""
    try:
        return Store(db)
    except (InputError, StoreError) as exc:
        if db is not None:
            raise
        warn(f"run log unavailable, predictions carry no run ids: {exc}")
        return None


class CascadeCounter:
    """Runs the cascade batch by batch and counts what went to the LLM."""

    def __init__(self, config, concurrency: int, few_shot=None) -> None:
        self.config, self.concurrency, self.few_shot = config, concurrency, few_shot
        self.sent = self.failed = 0
        self.down = None  # once the endpoint stops answering, later batches are not sent to it either

    def run(
        self, clf: Classifier, batch: list[str], below: float, top_n: int | None, threshold: float | None
    ) -> list[Prediction]:
        import asyncio

        from ..cascade import cascade_classify
        from ..llm.client import OpenAICompatibleLLM

        async def go():
            llm = OpenAICompatibleLLM(self.config)
            try:
                return await cascade_classify(
                    clf,
                    batch,
                    llm,
                    below,
                    concurrency=self.concurrency,
                    few_shot=self.few_shot,
                    top_n=top_n,
                    threshold=threshold,
                    llm_down=self.down,
                )
            finally:
                await llm.aclose()

        result = asyncio.run(go())
        self.sent += result.sent_to_llm
        self.failed += result.llm_failed
        self.down = self.down or stopped_answering((p.extra.get("llm_error"), None) for p in result.predictions)
        return result.predictions
