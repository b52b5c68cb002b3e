"""The instructor tagging tutorial through `llmclf tag`, once per --llm-mode, on a real llama.cpp server.

    python bench/llm_modes.py [--train] [--modes json,...] [--repeat N] [--first-answer]

Starts the llama.cpp server with SmolLM2-135M on 127.0.0.1 (the `llm-test`
extra). The tutorial's five tags and four texts, single tag and
--multi --confidence: how many texts got a valid tag from the LLM. --repeat runs each N
times (the server samples, so one run can differ from the next); --first-answer passes
--max-retries 0, counting replies valid as first given, before any re-ask. --train also trains a
two-class model per mode (-n 4, no cache) and counts the synthetic examples.
Runs `python -m llmclf`, so PYTHONPATH=<another checkout> measures that one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _util import LLMCLF, machine, print_table  # noqa: E402
from tutorial import TUTORIAL_TAGS as TAGS  # noqa: E402
from tutorial import TUTORIAL_TEXTS as TEXTS  # noqa: E402

MODES = ("tools", "json", "json_schema", "md_json")


def llmclf(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*LLMCLF, *args], capture_output=True, text=True, env=env, timeout=900)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--first-answer", action="store_true")
    args = parser.parse_args()
    from llama_server import llama_server

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "db.sqlite")
        env = {**os.environ, "LLMCLF_HOME": str(Path(tmp) / "home"), "LLMCLF_CACHE_DIR": str(Path(tmp) / "cache")}
        for tag_id, name, instructions in TAGS:
            llmclf("tags", "add", "tutorial", "--id", tag_id, "--name", name, "--instructions", instructions,
                   "--db", db, env=env)  # fmt: skip
        tag_rows, train_rows = [], []
        with llama_server(Path(tmp)) as url:
            env["OPENAI_BASE_URL"] = url
            retries = ["--max-retries", "0"] if args.first_answer else []
            for mode in args.modes.split(","):
                for flags in ([], ["--multi", "--confidence"]):
                    valid = 0
                    for _ in range(args.repeat):
                        done = llmclf("tag", "--set", "tutorial", "--db", db, "--llm-mode", mode, *flags, *retries,
                                      *TEXTS, env=env)  # fmt: skip
                        records = [json.loads(line) for line in done.stdout.splitlines()]
                        valid += sum(r["error"] is None and r["source"] == "llm" for r in records)
                    tag_rows.append([mode, " ".join(flags) or "single", f"{valid} / {len(TEXTS) * args.repeat}"])
                if args.train:
                    model = str(Path(tmp) / f"{mode}.model")
                    done = llmclf("train", "--class", "cat: Cats meow and purr.", "--class", "dog: Dogs bark.",
                                  "-n", "4", "--no-cache", "--llm-mode", mode, "--save", model, env=env)  # fmt: skip
                    found = re.search(r"(\d+) synthetic examples, (\d+) LLM call", done.stderr)
                    train_rows.append([mode, *(found.groups() if found else ("0", "?"))])
    print(f"machine: {machine()}; --repeat {args.repeat}{' --first-answer' if args.first_answer else ''}")
    print_table("tutorial tags by --llm-mode (SmolLM2-135M, llama_cpp.server)",
                ["mode", "tags", "valid"], tag_rows)  # fmt: skip
    if train_rows:
        print_table("train: 2 classes x 4 synthetic examples", ["mode", "synthetic kept", "LLM calls"], train_rows)


if __name__ == "__main__":
    main()
