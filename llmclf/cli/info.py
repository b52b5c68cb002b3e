"""``llmclf info``: what a bundle holds, without loading the embedder."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..bundle import read_manifest
from ..tfidf_check import summary as tfidf_check_summary
from ._common import friendly_errors, need, out, say
from .tables import Table


@friendly_errors
def info(
    load: Path | None = typer.Option(None, "--load", "-l", help="The .model bundle to describe."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    path: Path | None = typer.Argument(None, metavar="MODEL", help="The bundle (same as --load)."),
) -> None:
    """Show a bundle's classes, example counts by source, and embedder."""
    path = need(load, "--load", path)
    manifest = read_manifest(path)
    if as_json:
        typer.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    emb = manifest.get("embedder", {})
    training = manifest.get("training", {})
    out.print(
        f"{path}  llmclf {manifest.get('llmclf_version')}  format {manifest.get('format_version')}  created {manifest.get('created_at')}"
    )
    say(f"embedder: {emb.get('id')} ({emb.get('dim')}-d, normalized={emb.get('normalized')})")
    out.print(
        f"head: {training.get('head')} C={training.get('C')} class_weight={training.get('class_weight')} "
        f"temperature={training.get('temperature')} examples={training.get('n_examples')}"
    )
    tfidf = training.get("tfidf")
    if tfidf:
        blocks = ", ".join(
            f"{b['analyzer']} {b['ngram_range'][0]}-{b['ngram_range'][1]}: {b['n_terms']}" for b in tfidf["blocks"]
        )
        out.print(f"tfidf: weight={tfidf['weight']:.3g} ({training.get('tfidf_weight')}) terms: {blocks}")
    if check := training.get("tfidf_check"):
        out.print(f"tfidf check: {tfidf_check_summary(check)}")
    st = training.get("self_training")
    if st:
        out.print(
            f"self-training: {st['pseudo_labeled']} pseudo-labelled of {st['pool']} unlabelled texts, {st['rounds']} rounds"
        )
    ft = training.get("finetune")
    if ft and emb.get("tuned_sha256"):
        out.print(
            f"fine-tuned encoder: {ft['pairs']} pairs ({ft.get('loss', 'pairs')} loss) from {ft['texts']} examples, "
            f"{ft['seconds']:g} s; "
            f"sha256 {emb['tuned_sha256']}"
        )
    history = manifest.get("history") or []
    if history:
        last = history[-1]
        say(f"history: {len(history)} step(s); last: {last.get('action')} at {last.get('at')}")
    counts = manifest.get("example_counts", {})
    sources = sorted({s for c in counts.values() for s in c})
    table = Table(title_justify="left")
    table.add_column("class")
    for s in sources:
        table.add_column(s, justify="right")
    table.add_column("what it means", overflow="fold", max_width=60)
    for name in manifest.get("classes", []):
        desc = (manifest.get("descriptions") or {}).get(name) or "(none)"
        table.add_row(name, *(str(counts.get(name, {}).get(s, 0)) for s in sources), desc)
    out.print(table)
