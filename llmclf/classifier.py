"""The :class:`Classifier`: class descriptions and examples in, a fitted head out."""

from __future__ import annotations

import functools
import os
import sys
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from . import self_training
from ._version import __version__
from .bundle import check_bundle_target, read_bundle, write_bundle
from .calibration import calibrate, prior_only, skipped
from .descriptions import description_examples
from .embedding import Embedder, MiniLMEmbedder, check_threads, get_embedder
from .errors import BundleError, InputError, warn_data
from .estimator import TextClassifierEstimator
from .examples import WEIGHT, Example, Source
from .finetune import PAIRS as FINETUNE_PAIRS
from .generation import ExampleGenerator, GenerationResult, NoSyntheticData
from .head import (
    DEFAULT_C,
    DEFAULT_CLASS_WEIGHT,
    DEFAULT_TFIDF_WEIGHT,
    MAX_TFIDF_WEIGHT,
    LinearHead,
    auto_tfidf_weight,
    fit_head,
    softmax,
    valid_tfidf_weight,
)
from .inputs import (
    check_listed_labels,
    check_params,
    check_probability,
    check_top,
    class_pairs,
    clean_description,
    clean_name,
    clean_text,
    label_name,
    labels_disagree,
    names_alike,
    refuse_missing_label,
    sample_weights,
    texts_of,
)
from .self_training import ROUNDS, pool_of, round_share, sample_pool, select_confident
from .tfidf_check import check_tfidf_weight
from .tfidf_check import summary as tfidf_check_summary
from .tuned_encoder import IN_BATCH_LOSS, TunedMiniLM
from .vector_cache import vector_cache_for

# The newest (re)trainings a bundle keeps in its history: each carries its per-class counts, and a model retrained
# hourly with a thousand classes would otherwise outgrow the manifest's 64 MiB in a few months, then fail to save.
KEEP_HISTORY = 1000
PROGRESS_CHUNK = 256  # texts embedded between two progress steps (only when a progress callback is set)

__all__ = ["Classifier", "Prediction", "TrainReport"]


def all_or_nothing(method: Callable[..., Any]) -> Callable[..., Any]:
    """A method that changes the classifier fully or not at all: on any error (a bad text found half way, an LLM
    that fails, Ctrl-C) every attribute is put back as it was. A refit with one empty text used to leave a trained
    classifier wiped, and a class map with one bad description half added."""

    @functools.wraps(method)
    def guarded(self: Classifier, *args: Any, **kwargs: Any) -> Any:
        saved = {k: v.copy() if isinstance(v, list | dict) else v for k, v in vars(self).items()}
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            raise

    return guarded


@dataclass
class Prediction:
    """One text's result: the label (None when below the threshold) and every class's probability."""

    text: str
    label: str | None
    probabilities: dict[str, float]  # class -> p, highest first
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the cascade's source, a run id

    @property
    def confidence(self) -> float:
        return next(iter(self.probabilities.values()))

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "prediction": self.label, "probabilities": self.probabilities, **self.extra}

    def limited(self, top_n: int | None = None, threshold: float | None = None) -> Prediction:
        """A copy with only the ``top_n`` most likely classes, and no label below ``threshold``."""
        probabilities = dict(list(self.probabilities.items())[:top_n]) if top_n else dict(self.probabilities)
        label = self.label if threshold is None or self.confidence >= threshold else None
        return Prediction(self.text, label, probabilities, dict(self.extra))


@dataclass
class TrainReport:
    """What the last training run did, for the CLI and for curious callers."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # class -> source -> n
    generation: GenerationResult | None = None  # None: no generator was configured
    notes: list[str] = field(default_factory=list)


class NotFittedError(InputError, AttributeError):
    """The classifier is used before ``fit`` or ``prompt_train``.

    A ValueError and an AttributeError, like scikit-learn's own NotFittedError,
    so sklearn's machinery (``check_is_fitted``, ``hasattr(clf, "classes_")``)
    treats it the same way. Where scikit-learn is loaded, what is raised is also
    sklearn's NotFittedError, so ``except sklearn.exceptions.NotFittedError``
    catches it (classify never imports scikit-learn to say so).
    """


def _not_fitted(message: str) -> NotFittedError:
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return NotFittedError(message)
    return _also_sklearns(sklearn_exceptions.NotFittedError)(message)


@functools.cache
def _also_sklearns(sklearns: type) -> type[NotFittedError]:
    return type("NotFittedError", (NotFittedError, sklearns), {"__module__": __name__})


# Cross-validation folds of a fine-tuned model embed texts the encoder was tuned on, so they look surer than new
# texts will: at 8-shot the fitted temperature made ECE 2-3x worse (trec 0.098 -> 0.156, emotion 0.108 -> 0.295,
# sst2 0.038 -> 0.132; BENCHMARKS.md). After the pairs loss (fewer than ten classes) the tuned head alone is the
# better calibrated, and is left so. After the in-batch loss it is as under-confident as the frozen head, and the
# prior temperature alone brings it in (calibration.prior_only).
TUNED_NOT_CALIBRATED = (
    "the encoder was fine-tuned on these examples, so held-out folds would look surer than new texts"
    " (measured: a temperature fitted so made ECE 2-3x worse)"
)
TUNED_PRIOR_ONLY = "the encoder was fine-tuned on these examples, so no held-out fit"


class Classifier(TextClassifierEstimator):
    """A text classifier made from class descriptions and examples.

    >>> clf = Classifier().prompt_train({"cat": "Cats meow and purr.", "dog": "Dogs bark."})
    >>> clf.predict(["woof"]).tolist()
    ['dog']

    It is a scikit-learn estimator (see :mod:`llmclf.estimator` for why without
    importing sklearn): ``__init__`` only stores its parameters, ``fit`` resets
    every fitted state, ``classes_`` keeps the labels' own dtype, and ``clone``,
    ``pickle``, pipelines and ``cross_val_score`` work.
    """

    def __init__(
        self,
        embedder: Embedder | str | None = None,
        *,
        C: float = DEFAULT_C,
        class_weight: str | Mapping[Any, float] | None = DEFAULT_CLASS_WEIGHT,
        generator: ExampleGenerator | None = None,
        calibrate: bool = False,
        keep_vectors: bool = False,
        threads: int | None = None,
        tfidf_weight: float | str = DEFAULT_TFIDF_WEIGHT,
        finetune: bool = False,
        finetune_pairs: int = FINETUNE_PAIRS,
    ) -> None:
        self.embedder = embedder  # as given: an Embedder, a registered id, or None for the default
        self.C = C
        self.class_weight = class_weight
        self.generator = generator
        self.calibrate = calibrate
        self.keep_vectors = keep_vectors  # save the examples' embeddings (float16) in the bundle
        self.threads = threads  # onnxruntime threads of the embedder (None: LLMCLF_THREADS, else onnxruntime's)
        self.tfidf_weight = tfidf_weight  # the hybrid head's TF-IDF scale: "auto", a number, or 0 for embedding only
        self.finetune = finetune  # tune MiniLM on the examples before fitting (needs the finetune extra; see finetune)
        # the fine-tune's budget of text pairs: more is slower, and better with a few examples per class
        self.finetune_pairs = finetune_pairs
        self._reset()

    def _reset(self) -> None:
        """Forget everything learned or added; the parameters stay."""
        self._descriptions: dict[str, str | None] = {}
        self._examples: list[Example] = []
        self._head: LinearHead | None = None
        self._labels: np.ndarray | None = None  # classes_ in the labels' own dtype, head order
        self._report: TrainReport | None = None
        self._calibration: dict[str, Any] | None = None
        self._model_id = uuid.uuid4().hex  # stable across retrains: feedback is keyed by it
        self._history: list[dict[str, Any]] = []  # what each (re)training changed
        self._vectors: dict[str, np.ndarray] = {}
        self._self_training: dict[str, int] | None = None  # rounds, pool and pseudo-labelled count of the last fit
        self._tfidf_check: dict[str, Any] | None = None  # what the last fit's TF-IDF weight check found (tfidf_check)
        self._finetune: dict[str, Any] | None = None  # pairs, texts and seconds of the encoder's fine-tuning
        self._embedder: Embedder | None = None
        self._embedder_param: Any = None
        self._inference_only = False
        self._pending = 0  # examples added since the head was last trained: not used until the next training
        self._pending_said = 0  # the count predict last warned of

    # -- scikit-learn's estimator protocol (the rest is in TextClassifierEstimator) --
    def __sklearn_is_fitted__(self) -> bool:
        return self._head is not None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the parameters and what was learned; never a session, a callback or the vector cache."""
        state = dict(self.__dict__)
        state["_vectors"] = {}
        rebuildable = isinstance(self.embedder, str | None) and not isinstance(self._embedder, TunedMiniLM)
        state["_embedder"] = None if rebuildable else state["_embedder"]
        state.pop("on_progress", None)
        state.pop("on_finetune_progress", None)
        return state

    @property
    def embedder_(self) -> Embedder:
        """The embedder in use, resolved from the ``embedder`` parameter on first use."""
        if self._embedder is None or self._embedder_param is not self.embedder:
            e = self.embedder
            if isinstance(e, Embedder) and not isinstance(e, str):
                self._embedder = e
            else:
                self._embedder = get_embedder(e, threads=self.threads)
            self._embedder_param = self.embedder
            self._vectors = {}
        return self._embedder

    # -- state, under the names the Lamini-style API has always used -----------
    @property
    def descriptions(self) -> dict[str, str | None]:
        return self._descriptions

    @descriptions.setter
    def descriptions(self, value: dict[str, str | None]) -> None:
        self._descriptions = value

    @property
    def examples(self) -> list[Example]:
        return self._examples

    @examples.setter
    def examples(self, value: list[Example]) -> None:
        self._examples = value

    @property
    def head(self) -> LinearHead | None:
        return self._head

    @property
    def report(self) -> TrainReport | None:
        return self._report

    @property
    def calibration(self) -> dict[str, Any] | None:
        return self._calibration

    @property
    def self_training(self) -> dict[str, int] | None:
        """What the last self-training did: ``rounds``, ``pool`` size, ``pseudo_labeled`` examples kept."""
        return self._self_training

    @property
    def finetuned(self) -> dict[str, Any] | None:
        """How the encoder was fine-tuned (pairs, texts, seconds), or None for the shipped MiniLM."""
        return self._finetune if isinstance(self.embedder_, TunedMiniLM) else None

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def history(self) -> list[dict[str, Any]]:
        return self._history

    # -- data ---------------------------------------------------------------
    def add_class(self, name: str, description: str | None = None) -> Classifier:
        name = clean_name(name)
        if description is not None:
            description = clean_description(description, name)
        if self.descriptions.get(name) and description and self.descriptions[name] != description:
            raise InputError(f"class {name!r} already has a different description")
        self.descriptions[name] = description or self.descriptions.get(name)
        return self

    def add_data_to_class(
        self, name: str, data: str | Iterable[str], source: Source = Source.USER, meta: dict[str, Any] | None = None
    ) -> Classifier:
        """Add examples to a class; a class seen only here becomes a class too. On a trained classifier they count
        from the next training (prompt_train, fit or retrain_with_feedback); predict warns until then."""
        name = clean_name(name)
        texts = texts_of(data)
        cleaned = [clean_text(t, f"example for class {name!r}") for t in texts]
        self.descriptions.setdefault(name, None)
        self.examples.extend(Example(t, name, Source(source), dict(meta or {})) for t in cleaned)
        self._count_pending(len(cleaned))
        return self

    def _count_pending(self, n: int) -> None:
        if self._head is not None:
            self._pending = getattr(self, "_pending", 0) + n

    @all_or_nothing
    def add_examples(self, examples: Iterable[Example | Mapping[str, Any]]) -> Classifier:
        """Add :class:`Example` objects, or mappings of text, label, source and meta (what ``examples export``
        writes), checked as ``add_data_to_class`` checks its texts: an empty or None text, a label with spaces
        around it or an unknown source got in unchecked and failed later, as a KeyError or an AttributeError."""
        for i, ex in enumerate(examples, 1):
            if isinstance(ex, Mapping):
                ex = Example(ex.get("text"), ex.get("label"), ex.get("source", Source.USER), ex.get("meta") or {})
            elif not isinstance(ex, Example):
                raise InputError(
                    f"example {i} must be an Example or a mapping with text and label, not {type(ex).__name__}"
                )
            name = clean_name(ex.label)
            try:
                source = Source(ex.source)
            except ValueError:
                known = ", ".join(s.value for s in Source)
                raise InputError(f"example {i} has source {ex.source!r}; one of: {known}") from None
            text = clean_text(ex.text, f"example for class {name!r}")
            self.descriptions.setdefault(name, None)
            self.examples.append(Example(text, name, source, dict(ex.meta or {})))
            self._count_pending(1)
        return self

    @property
    def classes_(self) -> np.ndarray:
        """The class labels, in the labels' own dtype (ints stay ints after ``fit``), in column order."""
        self._require_head()
        return self._labels

    @property
    def class_names(self) -> list[str]:
        """The classes as the strings a bundle, the CLI and the service use, in column order."""
        return list(self._require_head().classes)

    # -- training -----------------------------------------------------------
    @all_or_nothing
    def prompt_train(
        self,
        classes: Mapping[str, str | None] | Sequence[Any] | None = None,
        *,
        unlabeled: Iterable[str] | None = None,
    ) -> Classifier:
        """Train from class descriptions, synthetic data if a generator is set, and added data.

        ``classes`` maps each class name to its description (a dict, or a pandas Series); a list of names alone
        (``["positive", "negative"]``) gives classes learned from their names, and a list of (name, description)
        pairs is read as the mapping.

        ``unlabeled`` texts, if given, are used for self-training (see :mod:`llmclf.self_training`).
        """
        check_params(self)
        for name, description in class_pairs(classes):
            self.add_class(name, description)
        if len(self.descriptions) < 2:
            raise InputError(f"need at least two classes to train, got {len(self.descriptions)}")
        report = TrainReport()
        if self.generator is not None:
            kept = [e for e in self.examples if e.source is not Source.SYNTHETIC]
            result = self.generator.generate(dict(self.descriptions), kept)
            NoSyntheticData.check(result, list(self.descriptions))  # a failing LLM, before any fitting
            self.examples = kept + [e for e in result.examples if e.label in self.descriptions]
            report.generation = result
        own = Counter(e.label for e in self.examples if e.source is not Source.DESCRIPTION)
        for name, desc in self.descriptions.items():
            if not desc and own[name]:
                report.notes.append(f"class {name!r} has no description; it is learned from its examples")
            elif not desc:  # it said "learned from its examples" of a class that had none
                report.notes.append(f"class {name!r} has no description and no examples: it is learned from its name")
        self._fit_all(report, unlabeled=unlabeled)
        self._log_training("train")
        return self

    @all_or_nothing
    def retrain_with_feedback(
        self, feedback: Sequence[Example], *, unlabeled: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Make ``feedback`` the bundle's feedback examples and refit the head (no LLM call).

        ``feedback`` is the whole feedback dataset (see :class:`llmclf.feedback.RunLog`),
        so retraining twice with the same data changes nothing. With ``unlabeled`` texts
        (such as the texts the model classified), the pseudo-labels are chosen afresh by
        self-training; without, the bundle's pseudo-labelled examples stay as they are.
        """
        check_params(self)
        self._require_head()
        self._require_examples("retrain it")
        if isinstance(feedback, str | Mapping) or not isinstance(feedback, Iterable):  # None: "not iterable"
            raise InputError(f"feedback must be a list of Examples, not {type(feedback).__name__}")
        feedback = list(feedback)
        unknown = sorted({e.label for e in feedback} - set(self._require_head().classes))
        if unknown:
            raise InputError(f"feedback uses labels the model does not have: {', '.join(unknown)}")
        counts = self.feedback_change(feedback)
        self.examples = [e for e in self.examples if e.source is not Source.FEEDBACK]
        self.add_examples(Example(e.text, e.label, Source.FEEDBACK, dict(e.meta)) for e in feedback)
        self._fit_all(TrainReport(), classes=self.class_names, labels=self._labels, unlabeled=unlabeled)
        change = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "action": "retrain", **counts}
        if self._self_training:
            change["self_training"] = self._self_training
        self.history.append(change)
        return change

    def feedback_change(self, feedback: Iterable[Example]) -> dict[str, int]:
        """What making ``feedback`` this classifier's feedback examples would change, by distinct (text, label)
        pair: ``feedback_examples``, ``added`` and ``removed`` (``retrain`` leaves a bundle alone when both are 0)."""
        old = {(e.text, e.label) for e in self.examples if e.source is Source.FEEDBACK}
        new = {(e.text, e.label) for e in feedback}
        return {"feedback_examples": len(new), "added": len(new - old), "removed": len(old - new)}

    @all_or_nothing
    def fit(
        self,
        X: Sequence[str],
        y: Sequence[Any],
        unlabeled: Iterable[str] | None = None,
        *,
        sample_weight: Sequence[float] | None = None,
    ) -> Classifier:
        """scikit-learn style: learn from texts ``X`` and labels ``y``, forgetting any earlier fit.

        The classes are exactly those in ``y``. Descriptions given earlier (``add_class``,
        ``prompt_train``) for those classes still count; everything else learned or added
        before is dropped, as sklearn's ``fit`` requires. ``unlabeled`` texts are used for
        self-training (see :mod:`llmclf.self_training`); they never relabel a text in ``X``.
        ``sample_weight`` weighs each text in the head's fit (kept in the bundle, so a retrain
        keeps it); a (text, label) pair given twice counts once, with its first weight.
        """
        check_params(self)
        texts = texts_of(X)
        for i, text in enumerate(texts, 1):  # named by place: "example for class 'dog' is empty" named no text
            clean_text(text, f"text {i} of X")
        if y is None or isinstance(y, str | bytes) or not (hasattr(y, "shape") or hasattr(y, "__iter__")):
            raise InputError(f"y must be one label per text, got {type(y).__name__} (fit needs labels: fit(X, y))")
        if not hasattr(y, "shape"):  # a list, not an array or a pandas column
            y = list(y)
            check_listed_labels(y)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:  # df[["label"]]: sklearn's own estimators warn and take the column
            from sklearn.exceptions import DataConversionWarning

            warnings.warn(
                "y is a column vector of shape (n, 1); it is taken as one label per text (use y.ravel() or "
                "df['label'] to say so)",
                DataConversionWarning,
                stacklevel=2,
            )
            y = y.ravel()
        if y.ndim != 1:
            raise InputError(f"y must be one label per text, got an array of shape {y.shape}")
        if len(texts) != len(y):
            raise InputError(f"X has {len(texts)} texts but y has {len(y)} labels")
        refuse_missing_label(y.tolist())
        weights = sample_weights(sample_weight, len(texts))
        try:
            labels = np.unique(y)
        except TypeError:
            raise InputError("labels in y must be of one comparable type (all strings or all numbers)") from None
        if len(labels) < 2:
            raise InputError(f"need at least two classes to train, got {len(labels)}")
        names = [clean_name(label_name(label)) for label in labels]  # as add_data_to_class names them ("cat ")
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            same = " and ".join(repr(label) for label, n in zip(labels.tolist(), names, strict=True) if n == twice)
            raise InputError(f"labels {same} in y have the same text form {twice!r}; use distinct labels")
        descriptions = {n: self._descriptions.get(n) for n in names}
        kept = {k: getattr(self, k) for k in ("_vectors", "_embedder", "_embedder_param")}
        self._reset()
        if not isinstance(kept["_embedder"], TunedMiniLM) or kept["_embedder"] is self.embedder:
            self.__dict__.update(kept)  # the same embedder and its vectors: refitting re-embeds only new texts
        self._descriptions = descriptions
        for text, label, weight in zip(texts, y.tolist(), weights, strict=True):
            self.add_data_to_class(label_name(label), text, meta={WEIGHT: weight} if weight != 1.0 else None)
        self._fit_all(TrainReport(), classes=names, labels=labels, unlabeled=unlabeled)
        self._log_training("fit")
        return self

    def _log_training(self, action: str) -> None:
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        entry = {"at": at, "action": action, "counts": self.report.counts}
        if self._self_training:
            entry["self_training"] = self._self_training
        self.history.append(entry)

    def _fit_all(
        self,
        report: TrainReport,
        classes: list[str] | None = None,
        labels: np.ndarray | None = None,
        unlabeled: Iterable[str] | None = None,
    ) -> None:
        """Fine-tune the encoder when asked; fit the head; with ``unlabeled`` texts, then self-train for a few
        rounds (calibrating only at the end)."""
        self._pending = self._pending_said = 0  # every example added so far is trained on now
        if disagree := labels_disagree(self.examples):
            report.notes.append(disagree)
        if alike := names_alike(list(classes if classes is not None else self.descriptions)):
            report.notes.append(alike)
        if self.finetune:
            self._finetune_encoder(report)
        self._tfidf_check = self._check_tfidf_weight(classes or sorted(self.descriptions))
        if self._tfidf_check and self._tfidf_check["weight"] > self._tfidf_check["auto"]:
            report.notes.append(tfidf_check_summary(self._tfidf_check))
        if unlabeled is None:
            self._train(report, classes, labels)
            return
        self._examples = [e for e in self.examples if e.source is not Source.PSEUDO]
        labelled = {e.text for e in self.training_examples()}
        offered = pool_of(unlabeled, labelled)
        pool = sample_pool(offered)
        if len(offered) > len(pool):
            report.notes.append(
                f"self-training reads a random {len(pool):,} of the {len(offered):,} unlabelled texts: "
                "more pseudo-labels lowered accuracy on development rows (BENCHMARKS.md)"
            )
        self._train(report, classes, labels, final=not pool)
        if not pool:
            report.notes.append("self-training skipped: no unlabelled text that is not already labelled")
            self._self_training = {"rounds": 0, "pool": 0, "pseudo_labeled": 0}
            return
        base = list(self.examples)
        X = self.embed(pool)
        names = self.class_names
        for round_ in range(1, ROUNDS + 1):
            proba = self._head.predict_proba(X, pool)
            pseudo = select_confident(proba, pool, names, round_share(round_), round_)
            self._examples = base + pseudo
            self._train(report, classes, labels, final=round_ == ROUNDS)
        self._self_training = {"rounds": ROUNDS, "pool": len(pool), "pseudo_labeled": len(pseudo)}
        report.notes.append(
            f"self-training: {len(pseudo)} of {len(pool)} unlabelled texts pseudo-labelled in {ROUNDS} rounds"
        )

    def _finetune_encoder(self, report: TrainReport) -> None:
        """Tune MiniLM on every training example but pseudo-labels (see :mod:`llmclf.finetune`) and use it."""
        from .finetune import finetune_minilm

        given = self.embedder
        base = get_embedder(given) if isinstance(given, str | None) else given
        if not isinstance(base, MiniLMEmbedder):
            raise InputError(f"fine-tuning tunes the MiniLM embedder, not {base.id!r}")
        self._require_examples("fine-tune it")
        examples = [e for e in self.training_examples() if e.source is not Source.PSEUDO]
        result = finetune_minilm(
            [e.text for e in examples],
            [e.label for e in examples],
            pairs=self.finetune_pairs,
            threads=self.threads,
            on_progress=getattr(self, "on_finetune_progress", None),
        )
        self._embedder = TunedMiniLM(result.arrays, loss=result.loss, threads=self.threads)
        self._embedder_param, self._vectors = self.embedder, {}
        self._finetune = result.info()
        report.notes.append(
            f"fine-tuned MiniLM on {result.pairs} pairs ({result.loss} loss) from {result.texts} examples "
            f"in {result.seconds:.0f} s"
        )

    def training_examples(self) -> list[Example]:
        """Description-derived examples for every class, then everything else, deduplicated."""
        derived = [ex for name, desc in self.descriptions.items() for ex in description_examples(name, desc)]
        seen: set[tuple[str, str]] = set()
        out = []
        for ex in derived + [e for e in self.examples if e.source is not Source.DESCRIPTION]:
            key = (ex.text, ex.label)
            if key not in seen:
                seen.add(key)
                out.append(ex)
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed training texts through two caches: this instance's, then the on-disk one (see vector_cache),
        so retraining re-embeds only texts never seen before."""
        texts = texts_of(texts)
        embedder = self.embedder_
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        disk = vector_cache_for(embedder) if missing else None
        if disk is not None:
            self._vectors.update(disk.get(missing))
            missing = [t for t in missing if t not in self._vectors]
        if missing:
            fresh = dict(zip(missing, self._embed_steps(missing), strict=True))
            self._vectors.update(fresh)
            if disk is not None:
                disk.put(fresh)
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def _embed_steps(self, texts: list[str]) -> np.ndarray:
        """Embed, reporting progress to ``self.on_progress(n_done, n_total)`` per chunk when it is set."""
        step = getattr(self, "on_progress", None)
        if step is None:
            return self.embedder_.embed(texts)
        parts = []
        for start in range(0, len(texts), PROGRESS_CHUNK):
            parts.append(self.embedder_.embed(texts[start : start + PROGRESS_CHUNK]))
            step(len(parts[-1]), len(texts))
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder_.dim), dtype=np.float32)

    def _train(
        self,
        report: TrainReport,
        classes: list[str] | None = None,
        labels: np.ndarray | None = None,
        final: bool = True,
    ) -> None:
        examples = self.training_examples()
        classes = classes or sorted(self.descriptions)
        texts = [e.text for e in examples]
        X = self.embed(texts)
        y = [e.label for e in examples]
        self._head = self._fit_head(X, y, classes, texts, examples)
        self._labels = labels if labels is not None else np.array(classes)
        self._examples = examples
        self._calibration = None
        if self.calibrate and final:
            if not isinstance(self.embedder_, TunedMiniLM):
                self._calibration = calibrate(X, examples, classes, self._fit_head)
            elif self.embedder_.loss == IN_BATCH_LOSS:
                self._calibration = prior_only(examples, classes, TUNED_PRIOR_ONLY)
            else:
                self._calibration = skipped(TUNED_NOT_CALIBRATED)
            if self._calibration.get("temperature"):
                self._head.temperature = self._calibration["temperature"]
            else:
                report.notes.append(f"calibration skipped: {self._calibration['skipped']}")
        counts: dict[str, Counter[str]] = {c: Counter() for c in classes}
        for e in examples:
            counts[e.label][e.source.value] += 1
        report.counts = {c: dict(n) for c, n in counts.items()}
        self._report = report

    def _fit_head(
        self,
        X: np.ndarray,
        y: list[str],
        classes: list[str],
        texts: list[str],
        examples: list[Example],
        tfidf_weight: float | None = None,
        solver: str = "lbfgs",
    ) -> LinearHead:
        return fit_head(
            X,
            y,
            classes,
            C=self.C,
            class_weight=self.class_weight,
            sample_weight=self_training.sample_weights(examples),
            texts=texts,
            tfidf_weight=self._weight if tfidf_weight is None else tfidf_weight,
            solver=solver,
        )

    def _check_tfidf_weight(self, classes: list[str]) -> dict[str, Any] | None:
        """Whether the labelled examples favour TF-IDF over the embedding (see :mod:`llmclf.tfidf_check`); only
        for the "auto" weight, and not after ``--finetune`` (the tuned encoder has seen every held-out text)."""
        auto = self._unchecked_weight
        if self.tfidf_weight != "auto" or isinstance(self.embedder_, TunedMiniLM) or not auto:
            return None
        examples = self.training_examples()
        return check_tfidf_weight(self.embed([e.text for e in examples]), examples, classes, auto, self._fit_head)

    @property
    def _weight(self) -> float:
        """The TF-IDF weight this training uses: :attr:`_unchecked_weight`, or the one the fit's TF-IDF check
        (:mod:`llmclf.tfidf_check`) chose for "auto"."""
        if self.tfidf_weight == "auto" and self._tfidf_check:
            return float(self._tfidf_check["weight"])
        return self._unchecked_weight

    @property
    def _unchecked_weight(self) -> float:
        """The TF-IDF weight the parameter gives (see :func:`~llmclf.head.auto_tfidf_weight`).

        None for description-only training: description-derived examples are
        label-name templates and a sentence or two per class, and TF-IDF learned
        from them lost 2 points on ag_news zero-shot (BENCHMARKS.md), so a
        classifier with no data of its own stays on the embedding alone.
        "auto" counts labelled examples per class: pseudo-labels do not count.
        """
        weight = self.tfidf_weight
        if not valid_tfidf_weight(weight):
            raise InputError(f'tfidf_weight must be "auto" or a number from 0 to {MAX_TFIDF_WEIGHT:g}, not {weight!r}')
        labelled = [e for e in self.examples if e.source not in (Source.DESCRIPTION, Source.PSEUDO)]
        if weight == "auto":
            weight = auto_tfidf_weight(len(labelled) / max(len({e.label for e in labelled}), 1))
        has_data = labelled or any(e.source is Source.PSEUDO for e in self.examples)
        return float(weight) if has_data else 0.0

    # -- prediction ---------------------------------------------------------
    def _require_head(self) -> LinearHead:
        if self._head is None:
            raise _not_fitted("classifier is not trained: call prompt_train() or fit() first")
        return self._head

    def _say_pending(self) -> None:
        """Warn, once for each count, that examples added since the last training do not count yet."""
        pending = getattr(self, "_pending", 0)
        if pending and pending != getattr(self, "_pending_said", 0):
            self._pending_said = pending
            warn_data(
                f"{pending} example(s) were added after the last training and are not used until it trains again "
                "(prompt_train(), fit() or retrain_with_feedback())"
            )

    def _scores(self, texts: Sequence[str] | str) -> np.ndarray:
        """The head's logits over its temperature, one row per text, columns in :attr:`classes_` order."""
        head = self._require_head()
        self._say_pending()
        cleaned = [clean_text(t, f"text {i + 1}") for i, t in enumerate(texts_of(texts))]
        return head.scores(self._embed_steps(cleaned), cleaned)

    def predict_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """Probabilities, one row per text, columns in :attr:`classes_` order; rows sum to 1."""
        return softmax(self._scores(texts))

    def decision_function(self, texts: Sequence[str] | str) -> np.ndarray:
        """The head's scores (logits over the fitted temperature), as sklearn's LogisticRegression gives them: one
        column per class in :attr:`classes_` order, or with two classes one value, positive for ``classes_[1]``."""
        scores = self._scores(texts)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict_log_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """The log of :meth:`predict_proba`, as sklearn's classifiers give it."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(texts))

    def predict(self, texts: Sequence[str] | str) -> np.ndarray:
        """The most likely class of each text, as an array in the labels' own dtype."""
        proba = self.predict_proba(texts)
        return self.classes_[proba.argmax(axis=1)]

    def predict_batch(
        self, texts: Sequence[Any], top_k: int = 5, threshold: float | None = None, probabilities: bool = False
    ) -> dict[str, np.ndarray]:
        """Columns for a batch (see :mod:`llmclf.batch`): a null, NaN or empty row gets an ``error``, never an exception."""
        from .batch import predict_batch

        return predict_batch(self, texts, top_k=top_k, threshold=threshold, probabilities=probabilities)

    def classify(
        self, texts: Sequence[str], threshold: float | None = None, top_n: int | None = None
    ) -> list[Prediction]:
        """Predictions with probabilities, highest first (all classes, or the ``top_n``).

        Below ``threshold`` the label is None; the probabilities are still given.
        """
        check_top(top_n, "top_n")
        check_probability(threshold, "threshold")
        texts = texts_of(texts)  # one string is one text, not one text per character
        proba = self.predict_proba(texts)
        classes = self.class_names
        k = min(top_n or len(classes), len(classes))
        if k < len(classes):
            top = np.argpartition(-proba, k - 1, axis=1)[:, :k]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(proba, top, axis=1), axis=1), axis=1)
        else:
            top = np.argsort(-proba, axis=1, kind="stable")
        names = np.array(classes, dtype=object)
        ranked = np.round(np.take_along_axis(proba, top, axis=1).astype(np.float64), 6)
        out = []
        for text, order, values in zip(texts, names[top].tolist(), ranked.tolist(), strict=True):
            label = order[0] if threshold is None or values[0] >= threshold else None
            out.append(Prediction(text, label, dict(zip(order, values, strict=True))))
        return out

    # -- persistence ----------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        head = self._require_head()
        counts: dict[str, Counter[str]] = {c: Counter() for c in head.classes}
        for e in self.examples:
            counts.setdefault(e.label, Counter())[e.source.value] += 1
        return {
            "model_id": self.model_id,
            "history": self.history[-KEEP_HISTORY:],
            "llmclf_version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "classes": head.classes,
            **(
                {"labels": self._labels.tolist()}
                if self._labels is not None and self._labels.dtype.kind in "biuf"
                else {}
            ),
            "descriptions": {c: self.descriptions.get(c) for c in head.classes},
            "example_counts": {c: dict(n) for c, n in counts.items()},
            "embedder": {
                "id": self.embedder_.id,
                "dim": self.embedder_.dim,
                "normalized": self.embedder_.normalized,
                "weights_sha256": getattr(self.embedder_, "weights_sha256", None),
                **({"tuned_sha256": self.embedder_.tuned_sha256} if isinstance(self.embedder_, TunedMiniLM) else {}),
            },
            "training": {
                "head": "hybrid" if head.sparse else "logistic_regression",
                "C": self.C,
                "class_weight": (
                    {str(k): float(w) for k, w in self.class_weight.items()}
                    if isinstance(self.class_weight, Mapping)
                    else self.class_weight
                ),
                "n_examples": len(self.examples),
                "temperature": head.temperature,
                "calibration": self.calibration,
                "vectors": "float16" if self.keep_vectors else None,
                "tfidf_weight": self.tfidf_weight if self.tfidf_weight == "auto" else float(self.tfidf_weight),
                "tfidf": head.sparse.info() if head.sparse else None,
                **({"tfidf_check": self._tfidf_check} if self._tfidf_check else {}),
                "self_training": self._self_training,
                "finetune": self.finetuned,
            },
        }

    def for_inference(self) -> Classifier:
        """A copy that keeps only what predicting needs: no training examples, no vector cache.

        It pickles small (for Spark broadcasts and Ray actors); it cannot be saved or retrained.
        """
        import copy

        lean = copy.copy(self)
        lean.__dict__ = {**self.__dict__, "_examples": [], "_vectors": {}, "_inference_only": True}
        return lean

    def _require_examples(self, action: str) -> None:
        if getattr(self, "_inference_only", False):
            raise InputError(
                f"an inference-only classifier has no training examples: load the bundle in full to {action}"
            )

    def save(self, path: str | os.PathLike[str] | BinaryIO) -> Path | str | BinaryIO:
        """Write one ``.model`` bundle atomically (with the examples' vectors when ``keep_vectors``).

        ``path`` may be an fsspec URL (``s3://``, ``gs://``, ``memory://``; needs ``pip install 'llmclf[fsspec]'``)
        or a binary file object (``io.BytesIO``), as for :meth:`load`: the bundle is written whole, checked, and
        then sent in one piece."""
        self._require_examples("save it")
        check_bundle_target(path)  # before the embedding below
        vectors = self.embed([e.text for e in self.examples]) if self.keep_vectors else None
        head = self._require_head()
        encoder = self.embedder_.arrays if isinstance(self.embedder_, TunedMiniLM) else None
        return write_bundle(path, self.manifest(), head.to_arrays(), self.examples, vectors, head.sparse, encoder)

    @classmethod
    def load(
        cls,
        source: str | os.PathLike[str] | bytes | BinaryIO,
        embedder: Embedder | None = None,
        *,
        inference_only: bool = False,
        threads: int | None = None,
    ) -> Classifier:
        """A classifier from a bundle: a path, ``bytes``, a binary file object or an fsspec URL
        (``s3://``, ``gs://``, ``memory://``, ``file://``; needs ``pip install 'llmclf[fsspec]'``).

        ``inference_only`` skips the training examples (smaller in memory and when pickled; such a
        classifier predicts but cannot be saved or retrained). ``threads`` sets the embedder's
        onnxruntime threads (default: ``LLMCLF_THREADS``, else onnxruntime's choice).
        """
        check_threads(threads)  # a bad count is the caller's, not the bundle's: it was reported as "corrupt"
        bundle = read_bundle(source, with_examples=not inference_only)
        path = source if isinstance(source, str | os.PathLike) else "the bundle"
        m = bundle.manifest
        try:
            classes = [str(c) for c in m["classes"]]
            emb = m["embedder"]
            training = m.get("training", {})
            given = embedder
            if embedder is None and bundle.encoder is not None:
                embedder = TunedMiniLM(
                    bundle.encoder, loss=(training.get("finetune") or {}).get("loss"), threads=threads
                )
                given = embedder  # no registered id names it: the classifier carries it, pickled or cloned
            elif embedder is None:
                embedder = get_embedder(emb["id"], threads=threads)
            if embedder.id != emb["id"]:
                raise BundleError(f"{path} was trained with embedder {emb['id']!r}, not {embedder.id!r}")
            if embedder.dim != int(emb["dim"]):
                raise BundleError(
                    f"{path} says embedder {emb['id']!r} gives {emb['dim']}-d vectors, but it gives {embedder.dim}"
                )
            ours, theirs = getattr(embedder, "weights_sha256", None), emb.get("weights_sha256")
            if ours and theirs and ours != theirs:
                raise BundleError(
                    f"{path} was trained with other weights for embedder {emb['id']!r} "
                    f"(sha256 {theirs}, this install has {ours}): retrain it here, or install the embedder it was made with"
                )
            head = LinearHead.from_arrays(classes, bundle.arrays, bundle.tfidf)
            if head.dim != embedder.dim:
                raise BundleError(f"{path}: head expects {head.dim}-d vectors, embedder gives {embedder.dim}")
            # The parameter is the embedder's id unless one was handed in: a pickled classifier
            # then carries a name, and rebuilds the embedder on first use.
            param = given if given is not None else str(emb["id"])
            clf = cls(
                param,
                C=float(training.get("C", DEFAULT_C)),
                class_weight=training.get("class_weight"),
                threads=threads,
                tfidf_weight=training.get("tfidf_weight", 0.0),
            )
            clf._embedder, clf._embedder_param = embedder, param
        except InputError as exc:  # before ValueError, which it is: an unknown embedder was called "corrupt"
            raise BundleError(f"{path}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{path} is corrupt: manifest or head is malformed ({exc})") from None
        clf._descriptions = {c: (m.get("descriptions") or {}).get(c) for c in classes}
        clf._examples = bundle.examples
        clf._head = head
        clf._labels = np.array(m["labels"] if m.get("labels") is not None else classes)  # ints stay ints
        clf._calibration = training.get("calibration")
        clf._self_training = training.get("self_training")
        clf._tfidf_check = training.get("tfidf_check")
        clf._finetune = training.get("finetune")
        clf.calibrate = bool(clf._calibration)
        clf._model_id = str(m.get("model_id") or clf._model_id)
        clf._history = list(m.get("history") or [])
        clf._inference_only = inference_only
        if bundle.vectors is not None:
            clf.keep_vectors = True
            clf._vectors.update(zip((e.text for e in bundle.examples), bundle.vectors, strict=True))
        return clf
