"""The rules module: pure matching semantics."""

from __future__ import annotations

import pytest

from monitor.config import RuleConfig
from monitor.models import Article
from monitor.rules import RuleSet, snippet


def matches(text: str, *, title: str = "", language: str | None = "en", **rule) -> list[str]:
    rules = RuleSet([RuleConfig(name="r", channels=("c",), **{k: tuple(v) for k, v in rule.items()})])
    return [m.rule for m in rules.match(Article(title, text, language, 1.0))]


@pytest.mark.parametrize(
    "term,text",
    [
        ("Huawei", "Sanctions on HUAWEI widen."),
        ("Exportkontrollen", "Die USA verschärfen Technologie-Exportkontrollen."),
        ("H20", "Nvidia darf H20-Chips nicht mehr liefern."),
        ("export controls", "New export-controls take effect."),
        ("export-controls", "New export controls take effect."),
        ("Entity List", "added to the entity\nlist on Friday"),
        ("contrôles", "Les contrôles se durcissent."),
        ("Maßnahmen", "NEUE MAẞNAHMEN BESCHLOSSEN"),
        ("U.S.", "The U.S. Commerce Department"),
    ],
)
def test_terms_are_found(term, text):
    assert matches(text, any=[term]) == ["r"]


@pytest.mark.parametrize(
    "term,text",
    [
        ("H20", "H200 accelerators"),            # whole words only
        ("ban", "Urban planning and bananas"),
        ("Huawei", "Huaweis neues Telefon"),     # a longer word is another word (compounds: the rules issue)
        ("export controls", "export of controls"),
        ("sanction", "sanctions"),
    ],
)
def test_partial_words_are_not_found(term, text):
    assert matches(text, any=[term]) == []


def test_title_counts_as_well_as_text():
    assert matches("Nothing here.", title="Huawei banned", any=["Huawei"]) == ["r"]


def test_all_every_term_must_occur():
    assert matches("Huawei ban", any=["ban"], all=["Huawei"]) == ["r"]
    assert matches("Huawei phone", any=["ban"], all=["Huawei"]) == []
    assert matches("a ban", any=["ban"], all=["Huawei"]) == []
    assert matches("Huawei and ZTE", all=["Huawei", "ZTE"]) == ["r"]


def test_none_vetoes():
    assert matches("Huawei smartphone review", any=["Huawei"], none=["smartphone review"]) == []
    assert matches("Huawei ban", any=["Huawei"], none=["smartphone review"]) == ["r"]


def test_languages_limit_the_rule_and_unknown_language_never_passes():
    assert matches("Huawei", any=["Huawei"], languages=["de", "nl"], language="de") == ["r"]
    assert matches("Huawei", any=["Huawei"], languages=["de", "nl"], language="en") == []
    assert matches("Huawei", any=["Huawei"], languages=["de"], language=None) == []
    assert matches("Huawei", any=["Huawei"], language=None) == ["r"]    # no languages: any language


def test_evidence_names_each_term_with_its_context():
    rules = RuleSet([RuleConfig("r", any=("H20", "Entity List"), all=("Nvidia",), channels=("c",))])
    text = ("Officials said on Tuesday that Nvidia will need a licence for H20 chips. "
            "Separately, fourteen companies were added to the Entity List.")
    (match,) = rules.match(Article("Chips", text, "en", 1.0))
    assert [hit.term for hit in match.hits] == ["H20", "Entity List", "Nvidia"]
    assert "licence for H20 chips" in match.hits[0].snippet
    assert match.hits[1].snippet.endswith("added to the Entity List.")


def test_snippet_cuts_at_words_and_marks_the_cut():
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda"
    start = text.index("epsilon")
    piece, mark_start, mark_end = snippet(text, start, start + len("epsilon"), context=12)
    assert piece.startswith("…") and piece.endswith("…")
    assert piece[mark_start:mark_end] == "epsilon"
    assert all(word in text.split() for word in piece.strip("…").split())


def test_channels_of_matches_in_rule_order():
    rules = RuleSet([RuleConfig("a", any=("x",), channels=("mail",)), RuleConfig("b", any=("y",), channels=("chat", "mail"))])
    found = rules.match(Article("", "x y", "en", 1.0))
    assert rules.channels_for(found) == ("mail", "chat")
