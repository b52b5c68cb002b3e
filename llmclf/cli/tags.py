"""``llmclf tags ...`` (tag sets in the database) and ``llmclf tag`` (tagging, with or without an LLM)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..classfiles import read_tag_file
from ..embedding import get_embedder
from ..errors import InputError, StoreError
from ..feedback import RunLog, few_shot_for, logging_enabled, set_target
from ..llm.config import HOW_TO_CONFIGURE
from ..store import Store
from ..tagging import TagResult, stopped_answering
from ._common import (
    SHOTS_HELP,
    Command,
    Group,
    Steps,
    column_option,
    friendly_errors,
    notice,
    out,
    pick,
    safe,
    say,
    warn,
    write_jsonl,
)
from .classify import count_texts, gather_texts, stdin_as_argument
from .live_batches import live_batches
from .llm_options import LLMOptions, llm_options
from .tables import Table

app = typer.Typer(cls=Group, help="Manage tag sets (id, name, instructions) in the database.", no_args_is_help=True)

DB_OPTION = typer.Option(None, "--db", help="SQLite database (default: llmclf.db in the user data dir).")


@app.command("add", cls=Command)
@friendly_errors
def add(
    set_name: str = typer.Argument(..., metavar="SET"),
    tag_id: str = typer.Option(..., "--id", help="Tag id, unique in the set."),
    name: str = typer.Option(..., "--name", help="Tag name, unique in the set."),
    instructions: str = typer.Option("", "--instructions", help="When to use this tag."),
    db: Path | None = DB_OPTION,
) -> None:
    """Add one tag to a set (the set is created on first use)."""
    tag = Store(db).add_tag(set_name, tag_id, name, instructions)
    say(f"added tag {tag.tag_id} ({tag.name}) to {set_name}")


@app.command("import", cls=Command)
@friendly_errors
def import_(
    set_name: str = typer.Argument(..., metavar="SET"),
    file: Path = typer.Argument(
        ...,
        help="CSV (tag_id,name,instructions), JSON Lines (as `tags list SET --json` writes) or a JSON list of tags.",
    ),
    db: Path | None = DB_OPTION,
) -> None:
    """Add every tag in a file to a set; nothing is added if one clashes."""
    tags = Store(db).add_tags(set_name, read_tag_file(file))
    say(f"imported {len(tags)} tag(s) into {set_name}")


@app.command("list", cls=Command)
@friendly_errors
def list_(
    set_name: str | None = typer.Argument(None, metavar="SET", help="A tag set; without it, every set."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines: one object per set, or per tag."),
    db: Path | None = DB_OPTION,
) -> None:
    """List the tag sets, or the tags of one set."""
    store = Store(db)
    if set_name is None:
        sets = [{"set": name, "tags": len(store.tags(name))} for name in store.tag_sets()]
        if as_json:
            write_jsonl(sets)
        elif not sets:  # it printed nothing at all
            notice("no tag sets yet: add one with `llmclf tags add SET --id ID --name NAME` or `llmclf tags import`")
        for row in [] if as_json else sets:
            say(f"{row['set']} ({row['tags']} tags)")
        return
    if as_json:
        write_jsonl(t.to_dict() for t in store.require_tags(set_name))
        return
    table = Table(title=set_name, title_justify="left")
    table.add_column("id")
    table.add_column("name")
    table.add_column("instructions", overflow="fold")
    for tag in store.require_tags(set_name):
        table.add_row(tag.tag_id, tag.name, tag.instructions)
    out.print(table)


@app.command("edit", cls=Command)
@friendly_errors
def edit(
    set_name: str = typer.Argument(..., metavar="SET"),
    tag: str = typer.Argument(..., metavar="TAG", help="Id or name."),
    instructions: str = typer.Option(..., "--instructions", help="When to use this tag ('' for none)."),
    db: Path | None = DB_OPTION,
) -> None:
    """Change a tag's instructions; its id, name, place and feedback stay (rename: remove it and add another)."""
    changed = Store(db).set_instructions(set_name, tag, instructions)
    say(f"changed the instructions of tag {changed.tag_id} ({changed.name}) in {set_name}")


@app.command("remove", cls=Command)
@friendly_errors
def remove(
    set_name: str = typer.Argument(..., metavar="SET"),
    tag: str | None = typer.Argument(None, metavar="TAG", help="Id or name; without it the whole set goes."),
    db: Path | None = DB_OPTION,
) -> None:
    """Remove a tag (by id or name), or a whole set."""
    store = Store(db)
    if tag is None:
        say(f"removed tag set {set_name} ({store.remove_set(set_name)} tags)")
    else:
        removed = store.remove_tag(set_name, tag)
        say(f"removed tag {removed.tag_id} ({removed.name}) from {set_name}")


@friendly_errors
@llm_options
def tag(
    texts: list[str] = typer.Argument(None, help="Texts to tag; '-' reads stdin."),
    set_name: str = typer.Option(..., "--set", help="The tag set to use."),
    input_files: list[Path] = typer.Option(
        [], "--input", "-i", help="CSV/JSONL/JSON/Parquet with a text column, or a text file."
    ),
    text_column: str | None = column_option("text"),
    multi: bool = typer.Option(False, "--multi", help="Every tag that applies, not just the best one."),
    confidence: bool = typer.Option(False, "--confidence", help="Add a confidence in [0,1] to each tag."),
    cascade_below: float | None = typer.Option(
        None,
        "--cascade-below",
        min=0.0,
        max=1.0,
        help="Tag with the local embedder; send only texts whose best tag is below this probability to the LLM.",
    ),
    offline: bool = typer.Option(False, "--offline", help="Use the local embedder even when an LLM is configured."),
    max_retries: int = typer.Option(2, "--max-retries", min=0, help="Re-asks after a reply outside the tag set."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="LLM calls at once."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines even on a terminal."),
    shots: int = typer.Option(5, "--shots", "-k", min=0, help=SHOTS_HELP),
    k: int | None = typer.Option(None, "--k", min=0, hidden=True),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log results (no run ids)."),
    llm: LLMOptions = LLMOptions(),
    db: Path | None = DB_OPTION,
) -> None:
    """Tag texts using only the tags of a set.

    With no LLM configured (or with --offline) the local embedder tags every
    text, zero-shot from each tag's name and instructions plus the set's
    feedback; each record's "source" says "embedding" or "llm".

    Exit status: 0 when every text got a tag; 1 when some could not be tagged
    (their records carry "error", the others are still printed); 2 on bad input.
    """
    from ..embedding_tagger import tag_texts

    k = pick(shots, k)
    store = Store(db)
    tags = store.require_tags(set_name)
    input_files, texts = stdin_as_argument(input_files, texts)
    rows = gather_texts(texts, [], input_files, text_column, verb="tag")
    config = None if offline else llm.resolve()
    if cascade_below is not None and config is None:
        raise InputError(f"--cascade-below needs an LLM: {HOW_TO_CONFIGURE}")
    if config is None and not offline:
        notice("no LLM configured: tagging with the local embedder (zero-shot from the tags' names and instructions)")
    target = set_target(set_name)
    embedder = get_embedder()
    examples = RunLog(store).dataset(target)  # feeds the offline head and the LLM's few-shot lookup alike
    few_shot = few_shot_for(store, target, embedder, k, examples) if k and config is not None else None
    runs = RunLog(store) if not no_log and logging_enabled() else None
    jsonl = as_json or not out.is_terminal
    seen = failed = 0
    down = None  # once the endpoint stops answering, later chunks are not sent to it either (see Tagger.down)
    # a chunk at a time: its records are written (and logged) as soon as it is tagged, so a slow pipe gets its
    # answers as they come, and Ctrl-C an hour into a bulk run keeps every record written before it
    with Steps("tagging", count_texts(texts, [], input_files)) as steps:
        answered = 0

        def one_more(_result) -> None:  # the LLM's answers as they come; the rest of a chunk at its end
            nonlocal answered
            answered += 1
            steps.advance(1)

        for batch in live_batches(rows, TAG_CHUNK):
            answered = 0
            good = [text for text, error, _ in batch if error is None]
            results = tag_texts(
                good,
                tags,
                llm_config=config,
                cascade_below=cascade_below,
                multi=multi,
                confidence=confidence,
                embedder=embedder,
                examples=examples,
                few_shot=few_shot,
                max_retries=max_retries,
                concurrency=concurrency,
                on_result=one_more,
                llm_down=down,
            ) if good else []  # fmt: skip
            down = down or stopped_answering((r.error or r.llm_error, r.public_error) for r in results)
            if runs is not None and results:
                try:
                    runs.log_tags(set_name, [t.name for t in tags], results, multi)
                except StoreError as exc:  # as in classify: the tags still come out, without run ids
                    warn(f"run log unavailable from here on, so these results carry no run ids: {exc}")
                    runs = None
            answers = iter(results)
            merged = [next(answers) if error is None else error for _, error, _ in batch]
            steps.advance(len(batch) - answered)  # the embedding tagger's, and rows that could not be read
            seen += len(batch)
            failed += sum(not isinstance(r, TagResult) or not r.ok for r in merged)
            if jsonl:
                steps.write_jsonl(r.to_dict() if isinstance(r, TagResult) else unreadable(r) for r in merged)
            else:
                steps.print(tag_table(merged))
    if not seen:
        raise InputError("no texts to tag")
    if failed:
        warn(f"{failed} of {seen} text(s) could not be tagged; see their error records")
        raise typer.Exit(1)


TAG_CHUNK = 256  # texts tagged, then written, at a time: at --concurrency 8, few calls wait on a chunk's slowest


def unreadable(why: str) -> dict:
    """The record of an input row that could not be read, in a tag record's shape."""
    return {"text": None, "id": None, "name": None, "tags": None, "error": why, "source": None}


def tag_table(results: list) -> Table:
    table = Table()
    table.add_column("text", overflow="fold", max_width=60)
    table.add_column("tags", overflow="fold")
    table.add_column("source")
    table.add_column("run id", style="dim")
    for r in results:
        if not isinstance(r, TagResult):  # an input row that could not be read
            table.add_row("", safe(f"error: {r}", "red"), "", "")
            continue
        shown = (
            ", ".join(t["name"] + (f" ({t['confidence']:.2f})" if "confidence" in t else "") for t in r.tags)
            if r.ok
            else f"error: {r.error}"
        )
        table.add_row(r.text, safe(shown, "" if r.ok else "red"), r.source, r.run_id or "")
    return table
