"""llmclf on Spark: ``classify(df, bundle)`` adds the classifier's columns to a DataFrame.

    from llmclf.integrations.spark import classify
    out = classify(spark.table("tickets"), "s3://models/support.model", text_col="body", top_k=5)

The bundle (a path, ``bytes`` or an fsspec URL) is broadcast once, or fetched
from its URL by each executor, and loaded once per executor Python process
with one onnxruntime thread (Spark already runs a task per core). Rows with a
null, NaN or empty text get ``error`` set; the others are classified. Output
columns, beside every input column (:data:`OUTPUT_SCHEMA`)::

    prediction string, confidence double, top_k array<struct<label:string,p:float>>,
    model_id string, error string [, probabilities map<string,float>]

Underneath: :func:`map_in_pandas` (a function for ``DataFrame.mapInPandas``) and
:func:`classify_udf` (an iterator ``pandas_udf`` returning one struct column).
Install with ``pip install 'llmclf[spark]'``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ._frames import OUTPUT_COLUMNS, bundle_payload, load_once, output_frame

__all__ = ["OUTPUT_SCHEMA", "classify", "classify_udf", "map_in_pandas"]

OUTPUT_SCHEMA = (
    "prediction string, confidence double, top_k array<struct<label:string,p:float>>, model_id string, error string"
)
PROBABILITIES_SCHEMA = "probabilities map<string,float>"


def _output_ddl(probabilities: bool) -> str:
    return OUTPUT_SCHEMA + (f", {PROBABILITIES_SCHEMA}" if probabilities else "")


def _shared(spark, bundle: Any):
    """A broadcast of the bundle's bytes, or its URL as it is."""
    payload = bundle_payload(bundle)
    if isinstance(payload, str):
        return payload
    return spark.sparkContext.broadcast(payload)


def _payload(shared) -> bytes | str:
    return shared if isinstance(shared, str) else shared.value


def map_in_pandas(
    shared, text_col: str = "text", top_k: int = 5, probabilities: bool = False, threads: int | None = 1
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A function for ``df.mapInPandas(fn, schema)``: each pandas batch comes back with the output columns added.

    ``shared`` is a broadcast of the bundle's bytes, or a URL.
    """

    def classify_batches(batches: Iterator[Any]) -> Iterator[Any]:
        clf = load_once(_payload(shared), threads)
        for batch in batches:
            out = output_frame(clf, batch[text_col].tolist(), top_k, probabilities)
            out.index = batch.index
            yield batch.join(out)

    return classify_batches


def classify_udf(shared, top_k: int = 5, probabilities: bool = False, threads: int | None = 1):
    """An iterator ``pandas_udf`` over a text column, returning one struct column of the output fields.

    ``df.withColumn("llmclf", classify_udf(spark.sparkContext.broadcast(data))("text"))``
    """
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def llmclf_udf(texts):
        clf = load_once(_payload(shared), threads)
        for series in texts:
            yield output_frame(clf, series.tolist(), top_k, probabilities)

    # Spark reads the UDF's kind from real type hints (this module's annotations are strings).
    llmclf_udf.__annotations__ = {"texts": Iterator[pd.Series], "return": Iterator[pd.DataFrame]}
    return pandas_udf(_output_ddl(probabilities))(llmclf_udf)


def classify(
    df, bundle: Any, text_col: str = "text", top_k: int = 5, *, probabilities: bool = False, threads: int | None = 1
):
    """``df`` with ``prediction``, ``confidence``, ``top_k``, ``model_id`` and ``error`` added (see the module doc)."""
    from pyspark.sql.types import StructType

    if text_col not in df.columns:
        raise ValueError(f"no column {text_col!r} in the DataFrame (columns: {', '.join(df.columns)})")
    clash = [c for c in (*OUTPUT_COLUMNS, "probabilities") if c in df.columns]
    if clash:
        raise ValueError(f"the DataFrame already has column(s) {', '.join(clash)}: rename them first")
    added = StructType.fromDDL(_output_ddl(probabilities))
    schema = StructType(df.schema.fields + added.fields)
    return df.mapInPandas(
        map_in_pandas(_shared(df.sparkSession, bundle), text_col, top_k, probabilities, threads), schema
    )
