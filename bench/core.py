"""Core speed and memory: classify cold start, classify throughput, train time.

    python bench/core.py            # full (10,000 texts)
    python bench/core.py --quick    # a small slice, as a smoke test

Each figure is one child process running the real `llmclf` CLI, timed from
spawn to exit, with its peak RSS from wait4().
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import LLMCLF, classify_cli, k_per_class, load_split, machine, print_table, shuffled, timed_run, write_jsonl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small slice: 500 texts, 1 cold-start run")
    args = parser.parse_args()
    n_texts = 500 if args.quick else 10_000
    repeats = 1 if args.quick else 5

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train = write_jsonl(tmp / "train.jsonl", k_per_class(load_split("banking77", "train"), 10))
        model = tmp / "banking.model"
        walls, rss = [], 0.0
        for _ in range(repeats if not args.quick else 1):
            wall, peak, _, _ = timed_run([*LLMCLF, "train", "--data", str(train), "--save", str(model)])
            walls.append(wall)
            rss = max(rss, peak)
        rows.append(
            [
                "train banking77, 77 classes x 10 examples",
                f"{statistics.median(walls):.2f} s",
                "target <= 30 s",
                f"{rss:.0f} MiB",
            ]
        )

        rows += cold_start_rows(model, tmp, repeats)

        pool = [r["text"] for r in shuffled(load_split("banking77", "train") + load_split("banking77", "test"))]
        texts = (pool * (n_texts // len(pool) + 1))[:n_texts]
        infile = tmp / "texts.txt"
        infile.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
        label = f"classify {n_texts:,} texts (incl. start-up)"
        rows.append(throughput_row(label, model, infile, n_texts, "target >= 1,000 texts/s"))

        rows += embedder_rows(texts, train, tmp, n_texts)

    print(f"machine: {machine()}")
    print_table("llmclf core", ["what", "measured", "target", "peak RSS"], rows)


def cold_start_rows(model: Path, tmp: Path, repeats: int) -> list[list[str]]:
    """A fresh ``classify`` of one text, with the integer MiniLM graph kept in the cache dir (from the second run on
    a machine) and, in turn with it, with a cache dir it cannot write (the graph made at each start, as the first
    run does, less the write): side by side, so the load of the moment weighs on both alike."""
    blocker = tmp / "not-a-folder"
    blocker.write_text("")
    settings = {
        "graph kept": {"LLMCLF_CACHE_DIR": str(tmp / "cache")},
        "graph made": {"LLMCLF_CACHE_DIR": str(blocker)},
    }
    timed_run(classify_cli(model, "warm up"), env=settings["graph kept"])  # the first run keeps it
    walls: dict[str, list[float]] = {name: [] for name in settings}
    rss = dict.fromkeys(settings, 0.0)
    for _ in range(repeats):
        for name, env in settings.items():
            wall, peak, _, _ = timed_run(classify_cli(model, "I still have not received my card"), env=env)
            walls[name].append(wall)
            rss[name] = max(rss[name], peak)
    kept, made = (statistics.median(walls[name]) for name in settings)
    return [
        [
            f"classify cold start, 1 text (median of {repeats})",
            f"{kept:.2f} s",
            "target <= 1.0 s",
            f"{rss['graph kept']:.0f} MiB",
        ],
        [
            f"the same, graph made at start ({made / kept:.2f}x the time)",
            f"{made:.2f} s",
            "",
            f"{rss['graph made']:.0f} MiB",
        ],
    ]


def throughput_row(label: str, model: Path, infile: Path, n_texts: int, target: str) -> list[str]:
    """One ``classify --input`` run over ``infile``, through the CLI, start-up included."""
    wall, peak, out, _ = timed_run(classify_cli(model, "--input", str(infile)))
    assert out.count("\n") == n_texts, "classify lost texts"
    return [label, f"{n_texts / wall:,.0f} texts/s ({wall:.1f} s)", target, f"{peak:.0f} MiB"]


def embedder_rows(texts: list[str], train: Path, tmp: Path, n_texts: int) -> list[list[str]]:
    """Embedding alone, in process (steady state), for the default and, if built, the fast embedder."""
    import time

    from llmclf import MiniLMEmbedder, MiniLMInt8Embedder
    from llmclf.fast_embedder import Model2VecEmbedder, fast_model_dir

    rows = []
    embedders = [
        ("minilm, integer products (default)", MiniLMInt8Embedder(), ""),
        ("minilm, float", MiniLMEmbedder(), ""),
    ]
    if (fast_model_dir() / "config.json").exists():
        embedders.append(("fast", Model2VecEmbedder(), "target >= 20,000 texts/s"))
    for name, emb, target in embedders:
        emb.embed(["warm up"])
        start = time.perf_counter()
        emb.embed(texts)
        wall = time.perf_counter() - start
        rows.append([f"embed {len(texts):,} texts in process, {name}", f"{len(texts) / wall:,.0f} texts/s", target, ""])
    if len(embedders) > 2:
        model = tmp / "fast.model"
        timed_run([*LLMCLF, "train", "--data", str(train), "--embedder", "fast", "--save", str(model)])
        label = f"classify {n_texts:,} texts, fast (incl. start-up)"
        rows.append(throughput_row(label, model, tmp / "texts.txt", n_texts, ""))
    else:
        rows.append(["fast embedder", "not built: llmclf embedders build fast", "", ""])
    return rows


if __name__ == "__main__":
    main()
