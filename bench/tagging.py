"""Tagging on banking77: the offline (embedding) tagger, the cascade, and valid answers from a local LLM.

    python bench/tagging.py [--rows 1000] [--llm-rows 100] [--thresholds 0.3 0.6]

The 77 intents are one tag set, with bench/descriptions/banking77.yaml as
instructions. Test rows are shuffled with seed 0 before a prefix is taken.
The LLM rows start the llama.cpp server with SmolLM2-135M on 127.0.0.1 (the
`llm-test` extra); skip them with --llm-rows 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _util import load_split, machine, print_table, shuffled  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--llm-rows", type=int, default=100)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.6])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LLMCLF_CACHE_DIR"] = str(Path(tmp) / "cache")  # the offline head is built, not read from cache
        run(args, Path(tmp))


def run(args: argparse.Namespace, tmp: Path) -> None:
    from llmclf.embedding import get_embedder
    from llmclf.embedding_tagger import EmbeddingTagger, atag_texts
    from llmclf.store import Tag

    descriptions = yaml.safe_load((HERE / "descriptions" / "banking77.yaml").read_text())
    tags = [Tag(str(i), name, desc) for i, (name, desc) in enumerate(descriptions.items())]
    rows = shuffled(load_split("banking77", "test"))[: args.rows]
    texts, gold = [r["text"] for r in rows], [r["label"] for r in rows]
    embedder = get_embedder()

    start = time.perf_counter()
    results = EmbeddingTagger(tags, embedder=embedder).tag(texts)
    seconds = time.perf_counter() - start
    table = [["embedding (offline)", len(rows), f"{accuracy(results, gold):.3f}", 0, "-", f"{seconds:.1f}"]]

    if args.llm_rows:
        from llama_server import llama_server

        from llmclf.llm import resolve_llm
        from llmclf.llm.client import OpenAICompatibleLLM

        head = args.llm_rows
        with llama_server(tmp) as url:
            config = resolve_llm(base_url=url, timeout=600, max_retries=1, env={})

            async def tag(**options):
                client = OpenAICompatibleLLM(config)
                t0 = time.perf_counter()
                try:
                    found = await atag_texts(
                        texts[:head], tags, llm=client, embedder=embedder, concurrency=1, **options
                    )
                finally:
                    await client.aclose()
                return found, client.requests, time.perf_counter() - t0

            offline = results[:head]
            table.append(["embedding, same slice", head, f"{accuracy(offline, gold):.3f}", 0, "-", "-"])
            for below in args.thresholds:
                found, calls, secs = asyncio.run(tag(cascade_below=below))
                sent = sum(r.source == "llm" or r.llm_error is not None for r in found)
                table.append(
                    [f"cascade below {below} ({sent} sent)", head, f"{accuracy(found, gold):.3f}", calls, valid(found, sent), f"{secs:.0f}"]
                )  # fmt: skip
            for name, multi in (("LLM only, single-label", False), ("LLM only, multi-label", True)):
                found, calls, secs = asyncio.run(tag(multi=multi))
                table.append([name, head, f"{accuracy(found, gold):.3f}", calls, valid(found, head), f"{secs:.0f}"])
    print_table(
        f"banking77 as one 77-tag set ({machine()})",
        ["tagger", "rows", "accuracy (best tag)", "LLM calls", "valid LLM answers", "seconds"],
        table,
    )


def accuracy(results, gold) -> float:
    return sum(r.ok and r.tags[0]["name"] == g for r, g in zip(results, gold, strict=False)) / len(results)


def valid(results, asked: int) -> str:
    answered = sum(r.ok and r.source == "llm" for r in results)
    return f"{answered}/{asked}" if asked else "-"


if __name__ == "__main__":
    main()
