"""``llmclf logs``: see and manage the run log (the runs that feedback answers), modelled on ``llm logs``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer

from ..bundle import read_manifest
from ..errors import InputError
from ..feedback import RunLog, model_target, set_logging, set_target
from ..store import Store, default_db_path
from ._common import Command, Group, friendly_errors, notice, out, say, write_jsonl
from .tables import Table

app = typer.Typer(cls=Group, help="The run log: every logged prediction, which feedback answers.", no_args_is_help=True)
DB_OPTION = typer.Option(None, "--db", help="SQLite database (default: llmclf.db in the user data dir).")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@app.command("path", cls=Command)
@friendly_errors
def path(db: Path | None = DB_OPTION) -> None:
    """Print the database's path."""
    say(str(db or default_db_path()))


@app.command("status", cls=Command)
@friendly_errors
def status(
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
    db: Path | None = DB_OPTION,
) -> None:
    """Whether logging is on, where the log is, and how big it has grown."""
    info = RunLog(Store(db)).status()
    if as_json:
        write_jsonl([info])
        return
    say(f"logging is {'on' if info['logging'] else 'off'}")
    say(f"database: {info['path']} ({info['bytes'] / 1e6:.1f} MB)")
    say(
        f"runs: {info['runs']} (oldest {info['oldest'] or '-'}, newest {info['newest'] or '-'}); feedback: {info['feedback']}"
    )


@app.command("on", cls=Command)
@friendly_errors
def on() -> None:
    """Log predictions from now on (the default)."""
    set_logging(True)
    say("logging is on: predictions get run ids")


@app.command("off", cls=Command)
@friendly_errors
def off() -> None:
    """Stop logging predictions by default (--no-log for one command does the same)."""
    set_logging(False)
    say("logging is off: predictions carry no run ids until `llmclf logs on`")


@app.command("list", cls=Command)
@friendly_errors
def list_(
    count: int = typer.Option(20, "--count", "-n", min=1, help="How many of the newest runs."),
    load: Path | None = typer.Option(None, "--load", "-l", help="Only runs of this .model bundle."),
    tag_set: str | None = typer.Option(None, "--set", help="Only runs of this tag set."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines, newest first."),
    db: Path | None = DB_OPTION,
) -> None:
    """The newest runs, with their feedback."""
    if load is not None and tag_set is not None:
        raise InputError("give at most one of --load and --set")
    target = model_target(read_manifest(load).get("model_id", "")) if load else None
    target = set_target(tag_set) if tag_set else target
    runs = RunLog(Store(db)).recent(count, target)
    if as_json:
        write_jsonl(runs)
        return
    if not runs:  # an empty table said nothing of why
        what = f"of {load}" if load else f"of tag set {tag_set!r}" if tag_set else "yet"
        notice(f"no runs logged {what}: `llmclf classify` and `llmclf tag` log each prediction unless --no-log")
        return
    table = Table()
    for col in ("run id", "at", "kind", "source"):
        table.add_column(col)
    table.add_column("text", overflow="fold", max_width=40)
    table.add_column("prediction", overflow="fold")
    table.add_column("feedback")
    for r in runs:
        correction = ", ".join(r["correction"]) if isinstance(r["correction"], list) else r["correction"]
        answer = correction or ("" if r["score"] is None else f"score {r['score']}")
        prediction = r["prediction"]  # a label, a multi-label tag run's list, or none (an error record)
        prediction = ", ".join(map(str, prediction)) if isinstance(prediction, list) else str(prediction or "")
        table.add_row(r["run_id"], r["created_at"][:19], r["kind"], r["source"], r["text"] or "", prediction, answer)
    out.print(table)


@app.command("prune", cls=Command)
@friendly_errors
def prune(
    older_than: str = typer.Option(..., "--older-than", metavar="AGE", help="e.g. 30d, 12h, 2w."),
    include_feedback: bool = typer.Option(
        False, "--include-feedback", help="Delete runs with feedback too (they are the feedback dataset)."
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Delete runs older than AGE; runs with feedback stay unless --include-feedback."""
    try:
        cutoff = datetime.now(timezone.utc) - parse_age(older_than)
    except OverflowError:  # further back than dates go: no run is that old
        cutoff = datetime.min.replace(tzinfo=timezone.utc)
    removed = RunLog(Store(db)).prune(cutoff, not include_feedback)
    say(f"deleted {removed} run(s) older than {older_than}")


def parse_age(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text or "")
    if not match:
        raise InputError(f"--older-than {text!r} must look like 30d, 12h, 90m or 2w")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})
