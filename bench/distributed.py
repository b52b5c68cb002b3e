"""Rows per CPU-second on 50,000 texts: the CLI, predict_batch (1 and 2 threads), Ray Data, Spark local[2].

    python bench/distributed.py [--rows 50000]

One banking77 10-shot bundle; texts are banking77 train+test rows repeated to
`--rows`. All variants run back to back in this one script, with the load
average beside each. CPU seconds are the whole machine's busy time from
/proc/stat over the run (Spark's Python workers and Ray's actors are not this
process's children, so its own rusage would miss them); run it on an otherwise
idle machine. Rows per CPU-second compares what each engine costs, not just
its wall time.
Needs the spark and ray extras.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import LLMCLF, banking_bundle, load_split, machine, print_table, shuffled, timed_run


def cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure(rows: list, label: str, n: int, run) -> None:
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    done = run()
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    assert done == n, f"{label}: {done} of {n} rows came back"
    rows.append(
        [label, f"{wall:.1f} s", f"{cpu:.1f} s", f"{n / cpu:,.0f}", f"{n / wall:,.0f}", f"{os.getloadavg()[0]:.2f}"]
    )
    print(rows[-1], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    n = args.rows
    pool = [r["text"] for r in shuffled(load_split("banking77", "train") + load_split("banking77", "test"))]
    texts = (pool * (n // len(pool) + 1))[:n]
    rows: list = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = banking_bundle(tmp)
        infile = tmp / "texts.txt"
        infile.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")

        def cli() -> int:
            _, _, out, _ = timed_run(
                [*LLMCLF, "classify", "--load", str(model), "--no-log", "--json", "--input", str(infile)]
            )
            return out.count("\n")

        measure(rows, "CLI, classify --input (default threads)", n, cli)

        from llmclf import Classifier

        for threads in (1, 2):
            clf = Classifier.load(model, inference_only=True, threads=threads)
            clf.predict_batch(["warm up"])

            def in_process(clf=clf) -> int:
                return sum(len(clf.predict_batch(texts[i : i + 1024])["error"]) for i in range(0, n, 1024))

            measure(rows, f"predict_batch in process, threads={threads}", n, in_process)

        import pandas as pd
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        ray.data.DataContext.get_current().enable_progress_bars = False
        from llmclf.integrations.ray import classify as ray_classify

        def on_ray() -> int:
            # 8 blocks, materialised first: both actors get work, and the repartition does not wait for a
            # CPU that the two actors already hold (on 2 cores it would wait for ever)
            ds = ray.data.from_pandas(pd.DataFrame({"text": texts})).repartition(8).materialize()
            return ray_classify(ds, str(model), concurrency=2, threads=1).count()

        measure(rows, "Ray Data, 2 actors x 1 thread", n, on_ray)
        ray.shutdown()

        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        from llmclf.integrations.spark import classify as spark_classify

        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        frame = spark.createDataFrame(pd.DataFrame({"text": texts})).repartition(2).cache()
        frame.count()

        def on_spark() -> int:
            return spark_classify(frame, str(model), threads=1).where("error is null").count()

        measure(rows, "Spark local[2], mapInPandas, 1 thread per task", n, on_spark)
        spark.stop()
    print(f"\nmachine: {machine()}")
    print_table(
        f"{n:,} banking77 texts, 77 classes",
        ["how", "wall", "CPU", "rows per CPU-second", "rows per second", "load (1 min)"],
        rows,
    )


if __name__ == "__main__":
    main()
