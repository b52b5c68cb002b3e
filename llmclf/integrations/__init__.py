"""Running a ``.model`` bundle where the data already is: Spark and Ray Data, one documented call each.

``llmclf.integrations.spark.classify(df, bundle)`` and
``llmclf.integrations.ray.classify(ds, bundle)`` add the output columns
(``prediction``, ``confidence``, ``top_k``, ``model_id``, ``error``) beside the
input columns. Install them as ``pip install 'llmclf[spark]'`` or ``'llmclf[ray]'``.
"""
