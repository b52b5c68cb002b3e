"""scikit-learn's estimator protocol, without importing scikit-learn.

:class:`TextClassifierEstimator` gives :class:`~llmclf.Classifier` what
``sklearn.base.BaseEstimator`` and ``ClassifierMixin`` would: parameters read
from ``__init__``'s signature (``get_params``/``set_params``, so ``clone`` and
``GridSearchCV`` work), a repr of the changed parameters, ``score`` as mean
accuracy, ``__sklearn_tags__`` declaring a classifier of 1-d text input, and
metadata routing (``set_fit_request(sample_weight=True)``, for
``sklearn.set_config(enable_metadata_routing=True)``).
It does not inherit them on purpose: importing sklearn costs ~0.6 s, and
``llmclf classify`` must start in under a second without it. sklearn is
imported only inside the methods that only sklearn (or its user) calls.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["TextClassifierEstimator"]

UNCHANGED = "$UNCHANGED$"  # sklearn.utils.metadata_routing.UNCHANGED: leave a request as it is


class _Requests(dict):
    """The metadata requests, by method. sklearn's clone clones an estimator's ``_metadata_request`` too, and
    clones a plain dict's values as estimators, which a bool is not: this one copies itself instead."""

    def __sklearn_clone__(self) -> _Requests:
        return _Requests({method: dict(params) for method, params in self.items()})


class TextClassifierEstimator:
    _estimator_type = "classifier"

    @classmethod
    def _get_param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self" and p.kind is not p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any):
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid parameters: {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = type(self)().get_params()

        def same(a: Any, b: Any) -> bool:
            try:
                return a is b or bool(a == b)
            except (TypeError, ValueError):  # an object whose == is not a bool (an array): not the default
                return False

        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not same(defaults[k], v)]
        return f"{type(self).__name__}({', '.join(changed)})"

    # Metadata routing: with sklearn.set_config(enable_metadata_routing=True), a meta-estimator (GridSearchCV,
    # cross_validate, a Pipeline) hands fit and score only the metadata an estimator asked for; without these,
    # set_fit_request(sample_weight=True) was an AttributeError and sample_weight could not reach fit at all.
    # The requests live in _metadata_request, which sklearn's clone copies.
    def set_fit_request(self, *, sample_weight: bool | str | None = UNCHANGED):
        """Whether ``fit`` takes ``sample_weight`` from a meta-estimator (True, False, None: error if passed, or
        an alias), as sklearn's estimators' method of the same name."""
        return self._set_request("fit", sample_weight)

    def set_score_request(self, *, sample_weight: bool | str | None = UNCHANGED):
        """Whether ``score`` takes ``sample_weight`` from a meta-estimator; see :meth:`set_fit_request`."""
        return self._set_request("score", sample_weight)

    def _set_request(self, method: str, sample_weight: bool | str | None):
        if sample_weight != UNCHANGED:
            if not (sample_weight is None or isinstance(sample_weight, bool | str)):
                raise InputError(
                    f"sample_weight's request must be True, False, None or an alias, not {sample_weight!r}"
                )
            requests = _Requests(getattr(self, "_metadata_request", {})).__sklearn_clone__()
            requests.setdefault(method, {})["sample_weight"] = sample_weight
            self._metadata_request = requests
        return self

    def get_metadata_routing(self):
        """sklearn's MetadataRequest: ``fit`` and ``score`` consume ``sample_weight`` as requested."""
        from sklearn.utils.metadata_routing import MetadataRequest

        routing = MetadataRequest(owner=type(self).__name__)
        requests = getattr(self, "_metadata_request", {})
        for method in ("fit", "score"):
            alias = requests.get(method, {}).get("sample_weight")
            getattr(routing, method).add_request(param="sample_weight", alias=alias)
        return routing

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(),
            input_tags=InputTags(one_d_array=True, two_d_array=False, string=True),
        )

    def score(self, X: Sequence[str], y: Sequence[Any], sample_weight: Sequence[float] | None = None) -> float:
        """Mean accuracy, as sklearn's ClassifierMixin defines it."""
        from .inputs import check_one_per_text, one_label_per_text

        predicted = self.predict(X)
        if not len(predicted):  # np.average of nothing: nan and a RuntimeWarning
            raise InputError("no texts to score")
        y = one_label_per_text(y)  # None scored 0.0, as if every prediction were wrong
        check_one_per_text(len(predicted), y)
        hits = (predicted == np.asarray(y)).astype(np.float64)
        return float(np.average(hits, weights=sample_weight))
