"""The same bundle on Spark (local[2]) and Ray Data (2 CPUs): same labels as clf.predict, bad rows flagged.

Marked `distributed` (CI runs it with `pip install -e '.[spark,ray]'`); it skips when the extras are missing.
"""

import os
import pickle

import numpy as np
import pytest

from llmclf import Classifier

pytestmark = pytest.mark.distributed


def need(module: str):
    """The module, or a skip; with LLMCLF_REQUIRE_DISTRIBUTED set (CI), a failure instead."""
    try:
        return __import__(module)
    except ImportError:
        if os.environ.get("LLMCLF_REQUIRE_DISTRIBUTED"):
            pytest.fail(f"LLMCLF_REQUIRE_DISTRIBUTED is set but {module} is not installed")
        pytest.skip(f"{module} is not installed: pip install -e '.[spark,ray]'")


TEXTS = [f"{w} number {i}" for i in range(150) for w in ("woof", "meow")] + [None, "", float("nan"), "  "]


@pytest.fixture(scope="module")
def expected(pets_bundle):
    clf = Classifier.load(pets_bundle)
    good = [t for t in TEXTS if isinstance(t, str) and t.strip()]
    return dict(zip(good, clf.predict(good).tolist(), strict=True)), dict(
        zip(good, clf.predict_proba(good).max(axis=1).tolist(), strict=True)
    )


def check(rows, expected):
    labels, confidence = expected
    assert len(rows) == len(TEXTS)
    bad = 0
    for row in rows:
        text = row["text"]
        if isinstance(text, str) and text.strip():
            assert row["error"] is None and row["prediction"] == labels[text]
            assert abs(row["confidence"] - confidence[text]) < 1e-5
            assert row["top_k"][0]["label"] == labels[text] and len(row["top_k"]) == 2
        else:
            bad += 1
            assert row["error"] and row["prediction"] is None
    assert bad == 4


@pytest.fixture(scope="module")
def spark():
    need("pyspark")
    import pyspark.sql

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        pyspark.sql.SparkSession.builder.master("local[2]")
        .appName("llmclf-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


def spark_rows(spark, out):
    return [r.asDict(recursive=True) for r in out.collect()]


def test_spark_classify_matches_predict_and_flags_bad_rows(spark, pets_bundle, expected):
    from llmclf.integrations.spark import classify

    df = spark.createDataFrame(
        [(i, t if not isinstance(t, float) else None) for i, t in enumerate(TEXTS)], "id long, text string"
    )
    out = classify(df, str(pets_bundle), text_col="text", top_k=2)
    assert [f.simpleString() for f in out.schema.fields] == [
        "id:bigint",
        "text:string",
        "prediction:string",
        "confidence:double",
        "top_k:array<struct<label:string,p:float>>",
        "model_id:string",
        "error:string",
    ]
    rows = spark_rows(spark, out)
    check(rows, expected)
    assert {r["model_id"] for r in rows} == {Classifier.load(pets_bundle).model_id}


def test_the_cli_reads_the_folder_spark_writes(spark, pets_bundle, expected, tmp_path):
    """`df.write.parquet("texts.parquet")` makes a folder of part files; `llmclf classify --input` took it for a folder
    it could not read."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from llmclf.cli import app

    good = [t for t in TEXTS if isinstance(t, str) and t.strip()]
    folder = tmp_path / "texts.parquet"
    spark.createDataFrame([(i, t) for i, t in enumerate(good)], "id long, text string").repartition(3).write.parquet(
        str(folder)
    )
    assert len(list(folder.glob("part-*.parquet"))) == 3 and (folder / "_SUCCESS").exists()
    out = tmp_path / "predictions.parquet"
    result = CliRunner().invoke(app, ["classify", "--load", str(pets_bundle), "-i", str(folder), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(out).to_pylist()
    assert sorted(r["id"] for r in rows) == list(range(len(good)))
    assert all(r["error"] is None and r["prediction"] == expected[0][r["text"]] for r in rows)


def test_bundle_loads_from_a_memory_url_bytes_and_a_file_object(pets_bundle):
    fsspec = need("fsspec")
    data = pets_bundle.read_bytes()
    with fsspec.open("memory://models/pets.model", "wb") as fh:
        fh.write(data)
    for source in ("memory://models/pets.model", data, pets_bundle.open("rb"), f"file://{pets_bundle}"):
        assert Classifier.load(source).predict(["woof"]).tolist() == ["dog"]


def test_spark_from_broadcast_bytes_a_url_each_executor_fetches_and_the_udf(spark, pets_bundle, expected):
    need("fsspec")
    from pyspark.sql import functions as F

    from llmclf.integrations.spark import classify, classify_udf

    data = pets_bundle.read_bytes()
    df = spark.createDataFrame([(t,) for t in TEXTS if not isinstance(t, float)] + [(None,)], "text string")
    # bytes are broadcast; a chained fsspec URL is not a local path, so each executor fetches it itself
    for bundle in (data, f"simplecache::file://{pets_bundle}"):
        assert len(spark_rows(spark, classify(df, bundle, top_k=2))) == len(TEXTS)
    udf = classify_udf(spark.sparkContext.broadcast(data), top_k=2)
    rows = [r.asDict(recursive=True) for r in df.withColumn("out", udf(F.col("text"))).collect()]
    labels, _ = expected
    for r in rows:
        if r["text"] and r["text"].strip():
            assert r["out"]["prediction"] == labels[r["text"]]
        else:
            assert r["out"]["error"]


def test_spark_probabilities_are_opt_in(spark, pets_bundle):
    from llmclf.integrations.spark import classify

    df = spark.createDataFrame([("woof",)], "text string")
    (row,) = spark_rows(spark, classify(df, str(pets_bundle), probabilities=True))
    assert set(row["probabilities"]) == {"cat", "dog"} and abs(sum(row["probabilities"].values()) - 1) < 1e-5


@pytest.fixture(scope="module")
def ray():
    need("ray")
    import ray.data

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_classify_matches_predict_and_flags_bad_rows(ray, pets_bundle, expected):
    import pandas as pd

    from llmclf.integrations.ray import classify

    ds = ray.data.from_pandas(pd.DataFrame({"id": range(len(TEXTS)), "text": TEXTS}))
    out = classify(ds, str(pets_bundle), text_col="text", top_k=2, batch_size=64)
    rows = out.to_pandas().to_dict("records")
    for r in rows:  # pandas gives NaN for a missing confidence and lists of dicts for top_k
        r["confidence"] = None if r["confidence"] != r["confidence"] else r["confidence"]
        r["text"] = None if isinstance(r["text"], float) else r["text"]
    check(rows, expected)
    assert set(rows[0]) == {"id", "text", "prediction", "confidence", "top_k", "model_id", "error"}


def test_a_used_classifier_pickles_small_without_examples(pets_bundle):
    clf = Classifier.load(pets_bundle, inference_only=True)
    clf.predict(["woof"])  # the ONNX session exists now
    blob = pickle.dumps(clf)
    # the head (weights, and the hybrid's terms and idf) and manifest fields only: no session, examples or vectors
    sparse = clf.head.sparse
    learned = clf.head.coef.nbytes + sum(
        b.idf.nbytes + sum(len(t.encode()) + 8 for t in b.terms) for b in sparse.blocks
    )
    assert len(blob) < 10_000 + learned
    assert len(pickle.dumps(Classifier.load(pets_bundle))) > len(blob) and not pickle.loads(blob).examples
    assert pickle.loads(blob).predict(["meow"]).tolist() == ["cat"]
    full = Classifier.load(pets_bundle)
    np.testing.assert_allclose(pickle.loads(blob).predict_proba(["x"]), full.predict_proba(["x"]), atol=1e-6)


def readme_recipes() -> list[str]:
    from .conftest import REPO

    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Classify 100M texts")[1].split("\n## ")[0]
    import re

    return re.findall(r"```python\n(.*?)```", section, re.S)


def local(code: str, tmp_path, bundle) -> str:
    """The README's recipe with its s3:// URLs pointed at local files, as a user would try it first."""
    return (
        code.replace("s3://lake/tickets/", f"file://{tmp_path / 'tickets'}")
        .replace("s3://models/support.model", f"file://{bundle}")
        .replace("s3://lake/tickets_classified/", f"file://{tmp_path / 'spark-out'}")
        .replace("s3://lake/out/", f"file://{tmp_path / 'ray-out'}")
        .replace("concurrency=8", "concurrency=1")  # two cores here: one for the actor, one for reading Parquet
    )


def test_readme_spark_and_ray_recipes_run_as_written(spark, ray, pets_bundle, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "tickets").mkdir()
    pq.write_table(pa.table({"id": [1, 2, 3], "body": ["woof", "meow", None]}), tmp_path / "tickets" / "part-0.parquet")
    spark_recipe, ray_recipe = readme_recipes()
    exec(compile(local(spark_recipe, tmp_path, pets_bundle), "README.md", "exec"), {"spark": spark})
    exec(compile(local(ray_recipe, tmp_path, pets_bundle), "README.md", "exec"), {})
    for out in ("spark-out", "ray-out"):
        rows = sorted(pq.read_table(tmp_path / out).to_pylist(), key=lambda r: r["id"])
        assert [r["prediction"] for r in rows] == ["dog", "cat", None] and rows[2]["error"] == "text is null"
