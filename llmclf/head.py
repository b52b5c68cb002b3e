"""The classification head: multinomial logistic regression on embeddings, or hybrid.

The hybrid head (the default) reads the dense embedding and sparse TF-IDF
features of the same text side by side, in one linear model: the embedding
carries meaning across words never seen in training, the TF-IDF columns carry
the exact words and spellings of a data set, which a frozen encoder blurs
(see :mod:`llmclf.tfidf` and BENCHMARKS.md for what each half is worth).

It is fitted with scikit-learn, but kept and applied as plain arrays
(``coef``, ``intercept``, ``temperature``) and, for the hybrid, a vocabulary
and idf, so a saved bundle holds no pickle and predicting needs only numpy and
scipy: `llmclf classify` never imports sklearn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError
from .tfidf import TfidfFeatures, fit_tfidf

__all__ = [
    "DEFAULT_C",
    "DEFAULT_TFIDF_WEIGHT",
    "LinearHead",
    "auto_tfidf_weight",
    "fit_head",
    "fit_temperature",
    "valid_tfidf_weight",
]

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
# The sparse half's scale against the unit-length embedding: each TF-IDF block
# is L2-normalised and multiplied by this weight. "auto" (the default) grows
# it with the labelled examples per class, from 0.5 at 8 to 1.0 at 64 and 2.0
# from 512 on: with few examples the embedding's sense of meaning matters
# most; with thousands, the exact words of the data set do, and a frozen
# encoder under-uses them (emotion, all train: 0.5 gave 84.3% on held-out
# train rows, 2.0 gave 88.9%, TF-IDF+LR alone 87.1%). Measured on rows held
# out of the shared train splits (BENCHMARKS.md, "hybrid head").
DEFAULT_TFIDF_WEIGHT = "auto"
# The TF-IDF half's weights (classes x terms) stay under this: the fit's memory grows
# with it (L-BFGS keeps about 20 float64 copies: ~600 MB here), and 1,000 classes with
# every term of 10,000 texts asked for 26 GiB. 77 classes keep up to 51,000 terms,
# 6 classes up to 650,000 (more than emotion's 16,000 texts have).
MAX_SPARSE_WEIGHTS = 4_000_000
MAX_TFIDF_WEIGHT = 100.0  # the manifest's bound: past it the TF-IDF half is all there is anyway
AUTO_WEIGHT_AT_8 = 0.5
AUTO_WEIGHT_MAX = 2.0
NEWTON_CG_UP_TO = 2000  # rows: see solver_for


def valid_tfidf_weight(weight: object) -> bool:
    """ "auto", or a number from 0 to :data:`MAX_TFIDF_WEIGHT` (NaN and infinities are not)."""
    return weight == "auto" or (isinstance(weight, int | float) and 0 <= weight <= MAX_TFIDF_WEIGHT)


def auto_tfidf_weight(examples_per_class: float) -> float:
    """``0.5 * (n / 8) ** (1/3)``, clipped to [0.5, 2.0]: 8 -> 0.5, 64 -> 1.0, 512 -> 2.0."""
    grown = AUTO_WEIGHT_AT_8 * (max(examples_per_class, 1.0) / 8.0) ** (1.0 / 3.0)
    return float(min(max(grown, AUTO_WEIGHT_AT_8), AUTO_WEIGHT_MAX))


@dataclass
class LinearHead:
    classes: list[str]
    coef: np.ndarray  # (n_classes, dim + TF-IDF terms): the embedding's columns first
    intercept: np.ndarray  # (n_classes,)
    temperature: float = 1.0  # logits are divided by it; fitted by calibration
    sparse: TfidfFeatures | None = None  # the hybrid's TF-IDF features: coef columns after the embedding's

    @property
    def dim(self) -> int:
        """The embedding's width: the coef columns before the sparse ones."""
        return self.coef.shape[1] - (self.sparse.n_features if self.sparse else 0)

    def logits(self, X: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        dim = self.dim
        z = X.astype(np.float32) @ self.coef[:, :dim].T.astype(np.float32) + self.intercept.astype(np.float32)
        if self.sparse is not None and self.sparse.n_features:
            if texts is None:
                raise ValueError("a hybrid head needs the texts beside their embeddings")
            z += np.asarray(self.sparse.transform(texts) @ self._sparse_coef())
        return z

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_sparse_t"}  # a transposed copy, rebuilt on use

    def _sparse_coef(self) -> np.ndarray:
        if getattr(self, "_sparse_t", None) is None:  # (n_sparse, n_classes), contiguous for CSR @ dense
            self._sparse_t = np.ascontiguousarray(self.coef[:, self.dim :].T, dtype=np.float32)
        return self._sparse_t

    def scores(self, X: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """The logits over the fitted temperature: what predict_proba takes the softmax of."""
        return self.logits(X, texts) / self.temperature

    def predict_proba(self, X: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        return softmax(self.scores(X, texts))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "coef": self.coef.astype(np.float32),
            "intercept": self.intercept.astype(np.float32),
            "temperature": np.array([self.temperature], dtype=np.float64),
        }

    @classmethod
    def from_arrays(
        cls, classes: list[str], arrays: dict[str, np.ndarray], sparse: TfidfFeatures | None = None
    ) -> LinearHead:
        coef, intercept = arrays["coef"], arrays["intercept"]
        if coef.ndim != 2 or coef.shape[0] != len(classes) or intercept.shape != (len(classes),):
            raise ValueError(f"head arrays have shape {coef.shape}/{intercept.shape} for {len(classes)} classes")
        if sparse is not None and coef.shape[1] <= sparse.n_features:
            raise ValueError(
                f"head has {coef.shape[1]} columns for {sparse.n_features} TF-IDF features and an embedding"
            )
        return cls(list(classes), coef, intercept, float(arrays["temperature"].reshape(-1)[0]), sparse)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# The temperature prior for calibration on little data (see fit_temperature). At 8
# labelled examples per class the hybrid head is under-confident by about a factor
# of two (the temperature fitted on 1,000 held-out train rows was 0.30-0.77 across
# five shared sets, 0.55-0.89 at 64), while a temperature fitted on 48 out-of-fold
# predictions swung from 0.16 to 55. Chosen on rows held out of the train splits.
PRIOR_T_AT_8 = 0.5
PRIOR_STRENGTH = 20.0  # the prior weighs as much as this many held-out examples' log-likelihoods


def prior_temperature(examples_per_class: float) -> float:
    """``0.5 * (n / 8) ** 0.15``, at most 1: 8 -> 0.5, 64 -> 0.68, 1,000 -> 1.0."""
    return float(min(PRIOR_T_AT_8 * (max(examples_per_class, 1.0) / 8.0) ** 0.15, 1.0))


def fit_temperature(
    logits: np.ndarray, y_idx: np.ndarray, prior: float | None = None, strength: float = PRIOR_STRENGTH
) -> float:
    """The temperature T that minimises the negative log-likelihood of softmax(logits / T).

    One scalar, so it cannot change which class wins, only how sure the head says it is.
    With a ``prior`` temperature, the summed log-likelihood is penalised by
    ``strength * (log T - log prior) ** 2`` (a log-normal prior, MAP): with a few dozen
    held-out examples the prior holds T near where it usually is; with hundreds the
    data decide.
    """
    from scipy.optimize import minimize_scalar

    logits = logits.astype(np.float64)
    rows = np.arange(len(y_idx))
    center = np.log(prior) if prior else 0.0
    weight = strength if prior else 0.0

    def loss(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[rows, y_idx] - np.log(np.exp(z).sum(axis=1))).sum() + weight * (log_t - center) ** 2)

    best = minimize_scalar(loss, bounds=(-4.0, 4.0), method="bounded")
    return float(np.exp(best.x))


def nll(proba: np.ndarray, y_idx: np.ndarray) -> float:
    return float(-np.log(np.clip(proba[np.arange(len(y_idx)), y_idx], 1e-12, None)).mean())


def solver_for(rows: int) -> str:
    """sklearn's solver for a head fitted on ``rows`` examples, where only its time matters (cross-validation
    folds): "newton-cg" up to :data:`NEWTON_CG_UP_TO`, "lbfgs" past it. Both reach the same optimum; newton-cg
    took half lbfgs's time on a few hundred to 2,600 rows and up to 2.4 times as long on thousands (BENCHMARKS.md).
    The final head is always fitted by lbfgs."""
    return "newton-cg" if rows <= NEWTON_CG_UP_TO else "lbfgs"


def fit_head(
    X: np.ndarray,
    y: Sequence[str],
    classes: Sequence[str],
    C: float = DEFAULT_C,
    class_weight: str | Mapping[Any, float] | None = DEFAULT_CLASS_WEIGHT,
    sample_weight: np.ndarray | None = None,
    max_iter: int = 1000,
    texts: Sequence[str] | None = None,
    tfidf_weight: float = 0.0,
    solver: str = "lbfgs",
) -> LinearHead:
    """Fit the head on embeddings ``X``; with ``tfidf_weight > 0`` (and the ``texts``) a hybrid head.

    ``solver`` is sklearn's "lbfgs" or "newton-cg" (see :func:`solver_for`).
    """
    from sklearn.linear_model import LogisticRegression

    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    y_idx = np.array([index[label] for label in y])
    if isinstance(class_weight, Mapping):  # keyed by label, as sklearn's; the model here sees class numbers
        unknown = [label for label in class_weight if str(label) not in index]
        if unknown:
            raise InputError(f"class_weight names {unknown[0]!r}, which is not a class (classes: {', '.join(classes)})")
        class_weight = {index[str(label)]: float(w) for label, w in class_weight.items()}
    sparse = None
    features = X
    if tfidf_weight > 0:
        from scipy.sparse import csr_matrix, hstack

        if texts is None or len(texts) != len(X):
            raise ValueError("a hybrid head needs one text per embedding")
        sparse = fit_tfidf(texts, weight=tfidf_weight, max_terms=MAX_SPARSE_WEIGHTS // len(classes))
        features = hstack([csr_matrix(X), sparse.transform(texts)], format="csr")
    model = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, solver=solver)
    model.fit(features, y_idx, sample_weight=sample_weight)
    coef, intercept = model.coef_, model.intercept_
    if len(classes) == 2:
        # sklearn keeps one row for binary problems; softmax over [-z/2, z/2]
        # equals sigmoid(z), so two rows give the same probabilities.
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return LinearHead(classes, coef, intercept, sparse=sparse)
