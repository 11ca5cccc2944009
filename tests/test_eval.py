"""The shipped rules on the labelled evaluation set (tests/eval): precision and recall per language.

Measured when the rules were written (tests/eval/evaluate.py): 1.000 and 1.000 in each of en, de, nl, fr,
es, it, pl and zh (192 articles, 96 relevant). This test keeps them from falling below that.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "eval"))

import evaluate  # noqa: E402

FLOOR = {"precision": 1.0, "recall": 1.0}   # the level reached; the issue asks for at least 0.95


@pytest.fixture(scope="module")
def scores():
    return evaluate.evaluate()


def test_the_set_is_big_enough_and_balanced():
    articles = evaluate.load_set()
    languages = {a["lang"] for a in articles}
    assert len(articles) >= 160 and len(languages) >= 8
    relevant = sum(a["relevant"] for a in articles)
    assert 0.4 <= relevant / len(articles) <= 0.6


@pytest.mark.parametrize("language", ["en", "de", "nl", "fr", "es", "it", "pl", "zh"])
def test_precision_and_recall_per_language(scores, language):
    score = scores[language]
    assert score.precision >= FLOOR["precision"], score.wrong
    assert score.recall >= FLOOR["recall"], score.wrong


def test_the_evaluation_command_prints_the_table(capsys):
    assert evaluate.main([]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["lang", "articles", "relevant", "precision", "recall"]
    assert any(line.startswith("zh") for line in table.splitlines())
