"""What the public API takes as texts, class names, labels and sample weights, checked in one place.

Each check raises :class:`~llmclf.errors.InputError` (a ValueError, as scikit-learn raises) with one line that
says what was wrong, so ``fit``, ``add_data_to_class`` and ``predict`` refuse bad input the same way.
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .blank import is_blank
from .errors import InputError
from .examples import Example, Source, valid_weight

__all__ = [
    "check_listed_labels",
    "check_one_per_text",
    "check_params",
    "check_probability",
    "check_top",
    "class_pairs",
    "clean_description",
    "clean_name",
    "clean_text",
    "label_name",
    "labels_disagree",
    "missing_label",
    "name_form",
    "names_alike",
    "one_label_per_text",
    "one_line",
    "refuse_missing_label",
    "sample_weights",
    "texts_of",
    "whole_number",
]


MAX_NAME_CHARS = 1000  # a bundle's manifest holds class names up to this long
MAX_DESCRIPTION_CHARS = 100_000  # and descriptions up to this long


def clean_name(name: str) -> str:
    if not isinstance(name, str):
        raise InputError(f"a class name must be a string, got {type(name).__name__} {name!r}")
    if is_blank(name):
        raise InputError("class name is empty")
    if len(name.strip()) > MAX_NAME_CHARS:  # it trained, saved, and the bundle never loaded
        raise InputError(f"a class name is {len(name.strip())} characters long; at most {MAX_NAME_CHARS}")
    return one_line(name_form(name.strip()), "class name")


def name_form(name: str) -> str:
    """The form class and tag names are kept and compared in, NFC: "café" typed on one keyboard and decomposed by
    another (e + U+0301) were two classes, or two tags, shown alike."""
    return unicodedata.normalize("NFC", name)


def one_line(value: str, what: str) -> str:
    """``value``, or an InputError if it holds a control character: a class or tag name with a line break trained
    and printed on two lines, and could not be typed back as `--label` or `--train "name: ..."`."""
    for c in value:
        if unicodedata.category(c) == "Cc":
            bad = {"\n": "a line break", "\r": "a line break", "\t": "a tab"}.get(
                c, f"the control character U+{ord(c):04X}"
            )
            raise InputError(f"{what} {value!r} holds {bad}; it must be one line of text")
    return value


def clean_description(description: str, name: str) -> str:
    text = clean_text(description, f"description of class {name!r}")
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise InputError(
            f"the description of class {name!r} is {len(text)} characters long; at most {MAX_DESCRIPTION_CHARS}"
        )
    return text


def texts_of(X: Any) -> list[str]:
    """A list of texts from a str, a list, an array or a pandas Series, or from one column of a 2-d array or
    DataFrame (what ``df[["text"]]`` and a ColumnTransformer given ``["text"]`` hand over)."""
    if isinstance(X, str):
        return [X]
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] == 1:
        return np.asarray(X, dtype=object)[:, 0].tolist()
    if shape is not None and len(shape) != 1:
        raise InputError(f"expected a 1-d sequence of texts (or one column), got an array of shape {tuple(shape)}")
    try:
        return list(X)
    except TypeError:  # None, a number: "'NoneType' object is not iterable" named neither what nor why
        raise InputError(f"expected texts (a string or a sequence of strings), got {type(X).__name__}") from None


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_) and math.isfinite(value)


def whole_number(n: Any, name: str, least: int = 0, most: int | None = None) -> int:
    """``n`` as an int, or an InputError if it is not a whole number from ``least`` (to ``most``, if given):
    True, 2.5 or "3" are not."""
    whole = isinstance(n, numbers.Integral) and not isinstance(n, bool | np.bool_)
    if not whole or n < least or (most is not None and n > most):
        span = f" from {least} to {most}" if most is not None else f", {least} or more"
        raise InputError(f"{name} must be a whole number{span}, not {n!r}")
    return int(n)


def check_top(n: Any, name: str) -> None:
    """``top_n``/``top_k``: None or a whole number from 1 (-1 cut the last class off, as a slice does)."""
    if n is not None:
        whole_number(n, name, 1)


def check_probability(p: Any, name: str) -> None:
    """A threshold on a probability: None or a number from 0 to 1 (5 made every text abstain without a word)."""
    if p is not None and (not _number(p) or not 0 <= p <= 1):
        raise InputError(f"{name} must be a number from 0 to 1, not {p!r}")


def check_params(clf: Any) -> None:
    """A Classifier's parameters, before any work: LogisticRegression refused a bad C or class_weight mid-fit
    naming itself, and calibrate="no" calibrated (any non-empty string is true)."""
    if not _number(clf.C) or clf.C <= 0:
        raise InputError(f"C must be a number above 0, not {clf.C!r}")
    weights = clf.class_weight
    if isinstance(weights, Mapping):
        for label, weight in weights.items():
            if not _number(weight) or weight < 0:
                raise InputError(f"class_weight[{label!r}] must be a number, 0 or more, not {weight!r}")
    elif weights is not None and not (isinstance(weights, str) and weights == "balanced"):
        raise InputError(f'class_weight must be "balanced", None or a dict of class -> weight, not {weights!r}')
    for name in ("calibrate", "keep_vectors", "finetune"):
        if not isinstance(getattr(clf, name), bool | np.bool_):
            raise InputError(f"{name} must be True or False, not {getattr(clf, name)!r}")
    whole_number(clf.finetune_pairs, "finetune_pairs", 1)
    if clf.generator is not None and not callable(getattr(clf.generator, "generate", None)):
        raise InputError(
            f"generator must have a generate(descriptions, examples) method; got a {type(clf.generator).__name__}"
        )


def missing_label(labels: list[Any]) -> int | None:
    """The index of the first label that is missing (None, pandas' NA, NaN) or infinite, as sklearn refuses them."""
    for i, label in enumerate(labels):
        if label is None or type(label).__name__ == "NAType":
            return i
        if isinstance(label, (float, np.floating)) and not np.isfinite(label):
            return i
    return None


def refuse_missing_label(labels: list[Any]) -> None:
    """An InputError naming the first label of ``y`` that is missing (see :func:`missing_label`), if there is one."""
    missing = missing_label(labels)
    if missing is not None:
        raise InputError(f"label {missing + 1} in y is {labels[missing]!r}: every text needs a label")


def one_label_per_text(labels: Any) -> list[Any]:
    """Labels as a list, as fit takes them: a column vector (``df[["label"]]``) is its column, and a missing label
    (None, NaN) is refused; they were counted as classes "[1]" and "nan" that the model did not know."""
    if isinstance(labels, str):
        return [labels]
    if labels is None or not (hasattr(labels, "shape") or hasattr(labels, "__iter__")):
        raise InputError(f"labels must be one per text, got {type(labels).__name__}")
    if hasattr(labels, "shape"):
        array = np.asarray(labels)
        array = array.ravel() if array.ndim == 2 and array.shape[1] == 1 else array
        if array.ndim != 1:
            raise InputError(f"labels must be one per text, got an array of shape {array.shape}")
        labels = array.tolist()
    labels = list(labels)
    refuse_missing_label(labels)
    return labels


def check_one_per_text(n_texts: int, labels: Sequence[Any]) -> None:
    """An InputError when there are not as many labels as texts."""
    if n_texts != len(labels):
        raise InputError(f"{n_texts} texts but {len(labels)} labels: give one label per text")


def label_name(label: Any) -> str:
    """A label's class name: its text, with a whole number written as floats (pandas' 2.0) named as the number
    ("2"), as the data files' readers name it: `fit` named it "2.0", and `llmclf eval` of the same rows found no
    such class."""
    if isinstance(label, float | np.floating) and float(label).is_integer():
        return str(int(label))
    if isinstance(label, bytes):  # h5py's and numpy's "S" labels: b"cat" made the class "b'cat'"
        raise InputError(
            f"label {bytes(label)!r} is bytes: decode the labels first (y.astype(str)); sklearn takes no bytes labels"
        )
    return str(label)


def check_listed_labels(labels: list[Any]) -> None:
    """Labels given as a list, checked before numpy makes one array of them: it made a NaN the class 'nan'
    (``df.label.tolist()`` with a missing label) and 1 and "1" one class '1'. sklearn refuses both."""
    flat = [v[0] if isinstance(v, list | tuple) and len(v) == 1 else v for v in labels]  # a column vector's rows
    refuse_missing_label(flat)
    text = next((v for v in flat if isinstance(v, str)), None)
    number = next((v for v in flat if isinstance(v, int | float | np.number)), None)
    if text is not None and number is not None:
        raise InputError(f"y mixes text and number labels ({number!r} and {text!r}): give every label as one type")


def labels_disagree(examples: Sequence[Example]) -> str | None:
    """A note when one text of the user's (or of feedback) carries two labels: kept as given, as sklearn keeps them,
    but said, since it is more often a slip in the data than a text that belongs to both."""
    labels_of: dict[str, set[str]] = {}
    for e in examples:
        if e.source in (Source.USER, Source.FEEDBACK):
            labels_of.setdefault(e.text, set()).add(e.label)
    mixed = [(text, labels) for text, labels in labels_of.items() if len(labels) > 1]
    if not mixed:
        return None
    text, labels = mixed[0]
    return (
        f"labels disagree: {len(mixed)} text(s) carry more than one label (e.g. {text!r}: "
        f"{', '.join(sorted(labels))}); each (text, label) pair is kept"
    )


def name_key(name: str) -> str:
    """A class name without case, spaces, '_' or '-': two names with one key are alike (see names_alike)."""
    return "".join(ch for ch in name.casefold() if ch not in " _-")


def names_alike(names: Sequence[str]) -> str | None:
    """A note when two class names differ only in case, spaces, '_' or '-' (``--class "cat: ..." --train "Cat:
    ..."`` made a second class of one example, without a word): kept as two classes, as given, but said."""
    seen: dict[str, str] = {}
    for name in names:
        key = name_key(name)
        if key in seen and seen[key] != name:
            return (
                f"classes alike: {seen[key]!r} and {name!r} differ only in case or spacing and are two classes; "
                "if they are one, spell it one way"
            )
        seen.setdefault(key, name)
    return None


def sample_weights(sample_weight: Any, n: int) -> list[float]:
    """``fit``'s sample weights as floats, one per text (all 1 without them); finite, 0 or more, not all 0."""
    if sample_weight is None:
        return [1.0] * n
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("sample_weight must be numbers, one per text") from None
    if weights.shape != (n,):
        raise InputError(f"sample_weight has shape {weights.shape}, expected ({n},): one weight per text")
    out = weights.tolist()
    if not all(valid_weight(w) for w in out):
        raise InputError("sample_weight must be finite and 0 or more")
    if not any(out):
        raise InputError("sample_weight is 0 for every text")
    return out


def clean_text(text: str, what: str = "text") -> str:
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}")
    if is_blank(text):
        raise InputError(f"{what} is empty")
    return text.strip()


def class_pairs(classes: Any) -> list[tuple[Any, Any]]:
    """(name, description) of each class ``prompt_train`` is given: a mapping (or anything with ``items()``, as a
    pandas Series has), a list of names (no descriptions), or a list of (name, description) pairs. A list was
    refused, though ``prompt_train(["positive", "negative"])`` says plainly what it means."""
    if classes is None:
        return []
    if isinstance(classes, Mapping) or (hasattr(classes, "items") and not isinstance(classes, str)):
        return list(classes.items())
    if isinstance(classes, list | tuple):
        if all(isinstance(c, str) for c in classes):
            if said := next((c for c in classes if ": " in c), None):  # the CLI's form: not a class name
                raise InputError(
                    f"{said!r} looks like --class NAME: DESCRIPTION; classes must map each class name to its "
                    "description, e.g. {'cat': 'Cats meow.'}"
                )
            pairs = [(name, None) for name in classes]
        elif all(isinstance(c, list | tuple) and len(c) == 2 for c in classes):
            pairs = [tuple(c) for c in classes]
        else:
            pairs = None
        if pairs is not None:
            names = [name for name, _ in pairs]
            if twice := next((n for n in names if names.count(n) > 1), None):
                raise InputError(f"class {twice!r} is given twice")
            return pairs
    raise InputError(
        "classes must map each class name to its description, e.g. {'cat': 'Cats meow.'}, or list class names; "
        f"got a {type(classes).__name__}"
    )
