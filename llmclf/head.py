"""The classification head: multinomial logistic regression on embeddings.

It is fitted with scikit-learn, but kept and applied as plain arrays
(``coef``, ``intercept``, ``temperature``), so a saved bundle holds no pickle
and predicting needs only numpy: `llmclf classify` never imports sklearn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_C", "LinearHead", "fit_head", "fit_temperature"]

# C=10: embeddings are L2-normalised, so their dot products with a weight
# vector are small and the default C=1 over-regularises: on banking77 with
# 10 examples per class C=1 loses several points against C=10 (see
# OFFLINE-MODELS.md, 85.2% at C=10), while C>=100 starts to over-fit the
# handful of description sentences a zero-shot class has.
DEFAULT_C = 10.0
# class_weight="balanced": classes arrive with very different example counts
# (a class from a two-sentence description next to one with 200 user rows);
# without reweighting the head's prior follows those counts, not the data the
# user will classify.
DEFAULT_CLASS_WEIGHT = "balanced"


@dataclass
class LinearHead:
    classes: list[str]
    coef: np.ndarray  # (n_classes, dim)
    intercept: np.ndarray  # (n_classes,)
    temperature: float = 1.0  # logits are divided by it; fitted by calibration

    def logits(self, X: np.ndarray) -> np.ndarray:
        return X.astype(np.float32) @ self.coef.T.astype(np.float32) + self.intercept.astype(np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.logits(X) / self.temperature)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "coef": self.coef.astype(np.float32),
            "intercept": self.intercept.astype(np.float32),
            "temperature": np.array([self.temperature], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, classes: list[str], arrays: dict[str, np.ndarray]) -> LinearHead:
        coef, intercept = arrays["coef"], arrays["intercept"]
        if coef.ndim != 2 or coef.shape[0] != len(classes) or intercept.shape != (len(classes),):
            raise ValueError(f"head arrays have shape {coef.shape}/{intercept.shape} for {len(classes)} classes")
        return cls(list(classes), coef, intercept, float(arrays["temperature"].reshape(-1)[0]))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y_idx: np.ndarray) -> float:
    """The temperature T that minimises the negative log-likelihood of softmax(logits / T).

    One scalar, so it cannot change which class wins, only how sure the head says it is.
    """
    from scipy.optimize import minimize_scalar

    logits = logits.astype(np.float64)
    rows = np.arange(len(y_idx))

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[rows, y_idx] - np.log(np.exp(z).sum(axis=1))).mean())

    best = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return float(np.exp(best.x))


def nll(proba: np.ndarray, y_idx: np.ndarray) -> float:
    return float(-np.log(np.clip(proba[np.arange(len(y_idx)), y_idx], 1e-12, None)).mean())


def fit_head(
    X: np.ndarray,
    y: Sequence[str],
    classes: Sequence[str],
    C: float = DEFAULT_C,
    class_weight: str | None = DEFAULT_CLASS_WEIGHT,
    sample_weight: np.ndarray | None = None,
    max_iter: int = 1000,
) -> LinearHead:
    from sklearn.linear_model import LogisticRegression

    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.array([index[label] for label in y])
    model = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter)
    model.fit(X, y_idx, sample_weight=sample_weight)
    coef, intercept = model.coef_, model.intercept_
    if len(classes) == 2:
        # sklearn keeps one row for binary problems; softmax over [-z/2, z/2]
        # equals sigmoid(z), so two rows give the same probabilities.
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return LinearHead(classes, coef, intercept)
