"""The relevance model: a logistic regression over an article's features, in a versioned file.

Pure numpy. Training is deterministic: the same examples in the same order give
the same file, bit for bit (Newton's method from zero, no random start, no
shuffling). The file is a NumPy ``.npz`` holding

* ``meta``: JSON with the format name and version, the encoder it was made
  with, the feature layout, the rule names its signals come from, the
  threshold and how it was trained;
* ``weights``, ``bias``: the classifier (monitor.relevance.model.design lays
  out the features);
* ``neighbour_*``: the embeddings and labels of every example it was trained
  on, the analyst's judgements included: an article's nearest labelled
  neighbours are among its features;
* ``base_*``: the features (never the text) of the labelled examples it was
  trained on, so that a retrain with the analyst's feedback keeps what the
  default learned.

A file that is missing, is not such a file, is damaged, or was made by another
format version or encoder is refused with a ModelError saying which.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from monitor.errors import MonitorError
from monitor.relevance.encoder import DIMENSIONS
from monitor.relevance.encoder import NAME as ENCODER_NAME

FORMAT = "monitor-relevance"
VERSION = 2                # 2: nearest labelled neighbours and the language among the features
DEFAULT_C = 1.0            # inverse L2 strength; 0.3 to 3 cross-validate alike on the dev set (README, Relevance)
DEFAULT_THRESHOLD = 0.5


class ModelError(MonitorError):
    """A model file cannot be used. The message names the file and the fault."""


@dataclass(frozen=True)
class Examples:
    """Labelled articles as the model sees them: their features' parts, never their text."""

    text: np.ndarray          # (n, 512) embedding of "title. lead"
    title: np.ndarray         # (n, 512) embedding of the title alone
    signals: np.ndarray       # (n, 3 * len(rules)) keyword-rule signals (see features.SIGNALS)
    rules: tuple[str, ...]    # the rule names the signals are for, in order
    labels: np.ndarray        # (n,) bool: relevant
    languages: tuple[str, ...]
    ids: tuple[str, ...]      # stable ids (the labelled file's id, or "feedback:<article id>")
    weights: np.ndarray       # (n,) how much each counts in training (a passing mention less, a judgement more)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Sequence[int] | np.ndarray) -> "Examples":
        index = np.asarray(index, dtype=np.int64)
        return Examples(self.text[index], self.title[index], self.signals[index], self.rules, self.labels[index],
                        tuple(self.languages[i] for i in index), tuple(self.ids[i] for i in index),
                        self.weights[index])

    def with_rules(self, rules: Sequence[str]) -> "Examples":
        """The same examples with their signals laid out for ``rules`` (a rule they lack: zeros)."""
        rules = tuple(rules)
        if rules == self.rules:
            return self
        out = np.zeros((len(self), 3 * len(rules)), dtype=np.float32)
        where = {name: i for i, name in enumerate(self.rules)}
        for j, name in enumerate(rules):
            if name in where:
                i = where[name]
                out[:, 3 * j:3 * j + 3] = self.signals[:, 3 * i:3 * i + 3]
        return Examples(self.text, self.title, out, rules, self.labels, self.languages, self.ids, self.weights)

    @staticmethod
    def join(parts: Sequence["Examples"], rules: Sequence[str]) -> "Examples":
        parts = [p.with_rules(rules) for p in parts if len(p)]
        if not parts:
            return empty_examples(rules)
        return Examples(
            np.concatenate([p.text for p in parts]), np.concatenate([p.title for p in parts]),
            np.concatenate([p.signals for p in parts]), tuple(rules), np.concatenate([p.labels for p in parts]),
            tuple(lang for p in parts for lang in p.languages), tuple(i for p in parts for i in p.ids),
            np.concatenate([p.weights for p in parts]),
        )


def empty_examples(rules: Sequence[str]) -> Examples:
    return Examples(np.zeros((0, DIMENSIONS), np.float32), np.zeros((0, DIMENSIONS), np.float32),
                    np.zeros((0, 3 * len(rules)), np.float32), tuple(rules), np.zeros(0, bool), (), (), np.zeros(0))


@dataclass(frozen=True)
class Anchors:
    """A topic's descriptions as vectors: what it is about (with its examples), and what it is not about."""

    about: np.ndarray         # (p, 512)
    not_about: np.ndarray     # (q, 512)

    @classmethod
    def none(cls) -> "Anchors":
        return cls(np.zeros((0, DIMENSIONS), np.float32), np.zeros((0, DIMENSIONS), np.float32))


ANCHOR_WEIGHT = 5.0   # the two similarities next to 1,024 embedding numbers: scaled so that they can count
NEIGHBOURS = 3        # how many nearest relevant (and not relevant) labelled examples an article is compared with
NEIGHBOUR_WEIGHT = 5.0
MIN_NEIGHBOURS = 10   # of each kind, relevant and not, before a model compares articles with its examples
# The encoder's languages. Each has a feature of its own, so that the model can learn how often a
# language's mentions of the topic are passing ones (Dutch feed posts mention sanctions in passing far more
# often than Polish leads do). An article in no language of these, or of none, has all of them zero.
LANGUAGES = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")


@dataclass(frozen=True)
class Neighbours:
    """The labelled examples a model compares an article with: their "title. lead" embeddings."""

    vectors: np.ndarray       # (m, 512)
    labels: np.ndarray        # (m,) bool

    @classmethod
    def of(cls, examples: Examples) -> "Neighbours":
        """Empty when either kind has fewer than MIN_NEIGHBOURS examples: in training each example's neighbours
        are the others, and a class of one or two has none to speak of, so the model would learn noise."""
        relevant = int(examples.labels.sum())
        if min(relevant, len(examples) - relevant) < MIN_NEIGHBOURS:
            return cls(np.zeros((0, DIMENSIONS), np.float32), np.zeros(0, bool))
        # as the file keeps them (float16), so that a model scores the same before and after it is saved
        return cls(examples.text.astype(np.float16).astype(np.float32), examples.labels)

    def near(self, vectors: np.ndarray, *, themselves: bool = False) -> np.ndarray:
        """(n, 2): the mean similarity to the NEIGHBOURS nearest relevant and not relevant examples.
        ``themselves``: ``vectors`` are the neighbours (training), and none counts as its own neighbour."""
        out = np.zeros((len(vectors), 2))
        if not len(vectors) or not len(self.vectors):
            return out
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(vectors) <= 8:
            # one article (the pipeline): BLAS would wake its threads for a 512 x m product and spin them,
            # which cost ten times the CPU of this plain loop on a busy machine
            similarity = np.einsum("ij,kj->ik", vectors, self.vectors)
        else:
            similarity = vectors @ self.vectors.T
        if themselves:
            np.fill_diagonal(similarity, np.nan)
        for column, label in enumerate((True, False)):
            of_label = similarity[:, self.labels == label]
            if of_label.shape[1]:
                nearest = -np.sort(-of_label, axis=1)[:, :NEIGHBOURS + 1]   # NaN (oneself) sorts last
                if not themselves or nearest.shape[1] > NEIGHBOURS:
                    nearest = nearest[:, :NEIGHBOURS]
                counted = np.isfinite(nearest)
                out[:, column] = np.where(counted, nearest, 0.0).sum(axis=1) / np.maximum(counted.sum(axis=1), 1)
        return out


def design(examples: Examples, anchors: Anchors, neighbours: Neighbours, *, themselves: bool = False) -> np.ndarray:
    """The feature matrix: both embeddings; how near the text is to the topic's descriptions and to what it
    is not about; how near to the labelled examples, relevant and not; log1p of the rule signals; 'any rule
    matched'; the language. Raw, not standardised: the L2 penalty then keeps the 1,024 small embedding
    numbers from fitting the noise of a few hundred examples."""
    signals = examples.signals
    n = len(examples)
    matched = signals[:, 0::3].max(axis=1, keepdims=True) if signals.shape[1] else np.zeros((n, 1))
    near = np.zeros((n, 2))
    for column, vectors in enumerate((anchors.about, anchors.not_about)):
        if len(vectors) and n:
            near[:, column] = (examples.text @ vectors.T).max(axis=1)
    labelled = NEIGHBOUR_WEIGHT * neighbours.near(examples.text, themselves=themselves)
    language = np.array([[float(code == lang) for lang in LANGUAGES] for code in examples.languages]).reshape(
        n, len(LANGUAGES))
    return np.hstack([examples.text, examples.title, ANCHOR_WEIGHT * near, labelled, np.log1p(signals), matched,
                      language]).astype(np.float64)


def width(rules: Sequence[str]) -> int:
    return 2 * DIMENSIONS + 2 + 2 + 3 * len(rules) + 1 + len(LANGUAGES)


@dataclass(frozen=True)
class Model:
    weights: np.ndarray
    bias: float
    threshold: float
    rules: tuple[str, ...]
    neighbours: Neighbours = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict)
    base: Examples | None = field(default=None, repr=False)

    def scores(self, examples: Examples, anchors: Anchors) -> np.ndarray:
        """Probability of 'relevant' for each example, in [0, 1]."""
        return _sigmoid(design(examples.with_rules(self.rules), anchors, self.neighbours) @ self.weights + self.bias)

    @property
    def anchors(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The descriptions it was trained with (about, not about)."""
        about, not_about = self.meta.get("anchors", ([], []))
        return tuple(about), tuple(not_about)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    return result


def train(examples: Examples, anchors: Anchors, *, c: float = DEFAULT_C, threshold: float = DEFAULT_THRESHOLD,
          meta: dict[str, Any] | None = None, keep_base: bool = True) -> Model:
    """L2-regularised logistic regression by Newton's method; the classes weighted to count equally, and
    within them each example by its own weight."""
    if len(examples) == 0 or examples.labels.all() or not examples.labels.any():
        raise ModelError("training needs relevant and not relevant examples (got "
                         f"{int(examples.labels.sum())} relevant of {len(examples)})")
    neighbours = Neighbours.of(examples)
    x = design(examples, anchors, neighbours, themselves=True)
    y = examples.labels.astype(np.float64)
    positives = y.sum()
    weight = np.where(y == 1, len(y) / (2 * positives), len(y) / (2 * (len(y) - positives)))
    weight = weight * np.asarray(examples.weights, dtype=np.float64)
    xb = np.hstack([x, np.ones((len(x), 1))])
    beta = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], 1.0 / c)
    penalty[-1] = 0.0   # the bias is not shrunk
    for _ in range(50):
        p = _sigmoid(xb @ beta)
        gradient = xb.T @ (weight * (p - y)) + penalty * beta
        hessian = (xb * (weight * p * (1 - p))[:, None]).T @ xb + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    info = dict(meta or {})
    info.update(examples=len(examples), relevant=int(positives), c=c,
                languages=dict(sorted(_count(examples.languages).items())))
    return Model(beta[:-1], float(beta[-1]), threshold, examples.rules, neighbours, info,
                 examples if keep_base else None)


def _count(items: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def save(model: Model, path: Path) -> None:
    """Write the model file atomically: a reader sees the old file or the new one, never half of one."""
    from monitor.relevance.encoder import encoder_version

    meta = dict(model.meta, format=FORMAT, version=VERSION, encoder=ENCODER_NAME,
                encoder_version=encoder_version(), rules=list(model.rules), threshold=model.threshold)
    base = model.base if model.base is not None else empty_examples(model.rules)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        np.savez_compressed(
            handle,
            meta=np.array(json.dumps(meta, sort_keys=True)),
            weights=model.weights, bias=np.array(model.bias),
            neighbour_text=model.neighbours.vectors.astype(np.float16),
            neighbour_labels=model.neighbours.labels.astype(np.int8),
            base_text=base.text.astype(np.float16), base_title=base.title.astype(np.float16),
            base_signals=base.signals.astype(np.float32), base_rules=np.array(list(base.rules), dtype=str),
            base_labels=base.labels.astype(np.int8), base_languages=np.array(list(base.languages), dtype=str),
            base_ids=np.array(list(base.ids), dtype=str), base_weights=base.weights.astype(np.float32),
        )
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def trained_ids(path: Path) -> set[str]:
    """The ids of the labelled examples a model file was trained on."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {str(x) for x in data["base_ids"]}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return set()


def load(path: Path, *, with_base: bool = False) -> Model:
    """Read a model file; ModelError names the file and what is wrong with it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][()]))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ModelError(f"{path}: not a monitor relevance model")
            if meta.get("version") != VERSION:
                raise ModelError(f"{path}: model format version {meta.get('version')!r}, this monitor reads "
                                 f"version {VERSION}: train it again with `monitor train`")
            if meta.get("encoder") != ENCODER_NAME:
                raise ModelError(f"{path}: made with the encoder {meta.get('encoder')!r}, this monitor uses "
                                 f"{ENCODER_NAME!r}: train it again with `monitor train`")
            rules = tuple(str(r) for r in meta.get("rules", []))
            weights = np.asarray(data["weights"], dtype=np.float64)
            if weights.shape != (width(rules),) or not np.isfinite(weights).all():
                raise ModelError(f"{path}: damaged: its weights do not fit its own description")
            neighbours = Neighbours(np.asarray(data["neighbour_text"], dtype=np.float32),
                                    np.asarray(data["neighbour_labels"]).astype(bool))
            if neighbours.vectors.shape != (len(neighbours.labels), DIMENSIONS) \
                    or not np.isfinite(neighbours.vectors).all():
                raise ModelError(f"{path}: damaged: its labelled examples do not fit its own description")
            base = None
            if with_base:
                base = Examples(
                    np.asarray(data["base_text"], dtype=np.float32), np.asarray(data["base_title"], dtype=np.float32),
                    np.asarray(data["base_signals"], dtype=np.float32), tuple(str(r) for r in data["base_rules"]),
                    np.asarray(data["base_labels"]).astype(bool), tuple(str(x) for x in data["base_languages"]),
                    tuple(str(x) for x in data["base_ids"]),
                    # files trained before examples had weights count each one once
                    np.asarray(data["base_weights"], dtype=np.float64) if "base_weights" in data.files
                    else np.ones(len(data["base_labels"])),
                )
                n = len(base.labels)
                if {len(base.text), len(base.title), len(base.signals), len(base.languages), len(base.ids),
                        len(base.weights)} != {n} or not np.isfinite(base.weights).all():
                    raise ModelError(f"{path}: damaged: its stored examples do not fit together")
            return Model(weights, float(data["bias"]), float(meta.get("threshold", DEFAULT_THRESHOLD)), rules,
                         neighbours, meta, base)
    except ModelError:
        raise
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a folder, not a model file") from None
    except PermissionError:
        raise ModelError(f"{path}: cannot be read (permission denied)") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: damaged or not a model file ({type(exc).__name__})") from None
