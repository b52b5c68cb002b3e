"""scikit-learn's estimator protocol, without importing scikit-learn.

:class:`TextClassifierEstimator` gives :class:`~llmclf.Classifier` what
``sklearn.base.BaseEstimator`` and ``ClassifierMixin`` would: parameters read
from ``__init__``'s signature (``get_params``/``set_params``, so ``clone`` and
``GridSearchCV`` work), a repr of the changed parameters, ``score`` as mean
accuracy, and ``__sklearn_tags__`` declaring a classifier of 1-d text input.
It does not inherit them on purpose: importing sklearn costs ~0.6 s, and
``llmclf classify`` must start in under a second without it. sklearn is
imported only inside ``__sklearn_tags__``, which only sklearn calls.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["TextClassifierEstimator"]


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
        from .inputs import one_label_per_text

        predicted = self.predict(X)
        if not len(predicted):  # np.average of nothing: nan and a RuntimeWarning
            raise InputError("no texts to score")
        y = one_label_per_text(y)  # None scored 0.0, as if every prediction were wrong
        if len(y) != len(predicted):
            raise InputError(f"{len(predicted)} texts but {len(y)} labels: give one label per text")
        hits = (predicted == np.asarray(y)).astype(np.float64)
        return float(np.average(hits, weights=sample_weight))
