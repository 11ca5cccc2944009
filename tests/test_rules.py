"""The rules module: pure matching semantics."""

from __future__ import annotations

import pytest

from monitor.config import load
from monitor.errors import ConfigError
from monitor.models import Article
from monitor.rules import RuleSet, RuleSpec, snippet


def matches(text: str, *, title: str = "", language: str | None = "en", **rule) -> list[str]:
    rules = RuleSet([RuleSpec(name="r", channels=("c",), **{k: tuple(v) for k, v in rule.items()})])
    return [m.rule for m in rules.match(Article(title, text, language, 1.0))]


@pytest.mark.parametrize(
    "term,text",
    [
        ("Huawei", "Sanctions on HUAWEI widen."),
        ("Exportkontrollen", "Die USA verschärfen Technologie-Exportkontrollen."),
        ("H20", "Nvidia darf H20-Chips nicht mehr liefern."),
        ("export controls", "New export-controls take effect."),
        ("export-controls", "New export controls take effect."),
        ("Entity List", "added to the entity\u00a0list on Friday"),
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


def test_phrases_do_not_cross_paragraphs():
    assert matches("new export\ncontrols", any=["export controls"]) == []
    assert matches("new export\ncontrols", any=["export", "controls"]) == ["r"]


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
    rules = RuleSet([RuleSpec("r", any=("H20", "Entity List"), all=("Nvidia",), channels=("c",))])
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
    rules = RuleSet([RuleSpec("a", any=("x",), channels=("mail",)), RuleSpec("b", any=("y",), channels=("chat", "mail"))])
    found = rules.match(Article("", "x y", "en", 1.0))
    assert rules.channels_for(found) == ("mail", "chat")


# --- the rule language -------------------------------------------------------------------------

def rule_matches(text: str, *, title: str = "", language: str | None = "en", **rule) -> bool:
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in rule.items()}
    rules = RuleSet([RuleSpec(name="r", channels=("c",), **fields)])
    return bool(rules.match(Article(title, text, language, 1.0)))


@pytest.mark.parametrize("query,text,expected", [
    ("Huawei AND ban", "Germany will ban Huawei parts", True),
    ("Huawei AND ban", "Huawei phones are popular", False),
    ("Huawei ban", "a ban on Huawei", True),                                   # side by side means AND
    ("Huawei OR ZTE", "ZTE equipment", True),
    ("Huawei AND NOT review", "Huawei review: the Mate 70", False),
    ("Huawei NOT review", "Huawei review", False),
    ("NOT review", "nothing at all", True),
    ("(Huawei OR ZTE) AND (ban OR sanctions)", "sanctions on ZTE", True),
    ("(Huawei OR ZTE) AND (ban OR sanctions)", "ZTE results", False),
    ("a OR b AND NOT c", "a c", True),                                          # OR binds loosest
    ("a OR b AND NOT c", "b c", False),
    ('"export controls"', "new export-controls on chips", True),
    ('"export controls"', "export of controls", False),
    ("Exportkontroll*", "strengere Exportkontrollen", True),
    ("Exportkontroll*", "die Exportkontrolle", True),
    ("*kontrollen", "Technologieexportkontrollen", True),
    ("*kontrollen", "Kontrollen", True),
    ("sanction* NEAR/3 Huawei", "sanctions imposed on Huawei", True),
    ("sanction* NEAR/3 Huawei", "sanctions were imposed last year on the company Huawei", False),
    ('Huawei NEAR/2 (ban OR banned)', "Huawei was banned", True),
    ('"Entity List" NEAR/5 (added OR adds)', "added fourteen companies to the Entity List", True),
    ("title:Huawei", "Huawei in the text only", False),
    ("text:Huawei", "Huawei in the text", True),
    ("title:(Huawei OR ZTE) AND ban", "a ban", False),
])
def test_queries(query, text, expected):
    assert rule_matches(text, query=query) is expected


def test_field_prefixes():
    assert rule_matches("nothing", title="Huawei banned", query="title:Huawei AND title:banned")
    assert not rule_matches("Huawei banned", title="nothing", query="title:Huawei")


def test_terms_per_language_apply_to_their_language_only():
    rule = {"terms": {"de": ("Exportkontrollen",), "nl": ("exportcontroles",)}, "any": ("export controls",)}
    assert rule_matches("Neue Exportkontrollen", language="de", **rule)
    assert not rule_matches("Neue Exportkontrollen", language="nl", **rule)
    assert rule_matches("nieuwe exportcontroles", language="nl", **rule)
    assert rule_matches("new export controls", language="fr", **rule)        # any: every language
    assert not rule_matches("Neue Exportkontrollen", language=None, **rule)


@pytest.mark.parametrize("term,text,expected", [
    ("{BIS}", "the BIS added firms", True),
    ("{BIS}", "bis Ende des Jahres", False),
    ("{US}", "the US Commerce Department", True),
    ("{US}", "let us go", False),
    ("BIS", "bis Ende des Jahres", True),          # without braces: case-insensitive
    ("contrôles", "les controles à l'exportation", True),
    ("contrôles", "les contrôles", True),
    ("contrôles", "les contröles", False),         # an accent the user wrote must not be another one
    ("controles", "les contrôles", True),          # no accent written: any accent
    ("Maßnahmen", "neue Massnahmen", True),
    ("Massnahmen", "neue Maßnahmen", True),
    ("sanción", "la sancion", True),
    ("export controls", "export\u00a0controls", True),
    ("Exportkontrollen", "Export\u00adkon\u00adtrollen", True),
    ("Entity-Liste", "auf die Entity Liste", True),
    ("l'exportation", "à l’exportation", True),
    ("BIS", "ＢＩＳ", True),                        # NFKC: full-width letters
    ("Łódź", "w Lodzi i Łodzi", False),
    ("H20", "英伟达H20芯片", True),                  # Latin next to Chinese is a boundary
    ("出口管制", "美国扩大对华芯片出口管制措施", True),    # no spaces: no word boundaries
    ("实体清单", "列入实体清单。", True),
])
def test_normalisation_case_and_compounds(term, text, expected):
    assert rule_matches(text, any=[term]) is expected


def test_regex_terms():
    assert rule_matches("an embargo on arms", any=["/(?<!sin )embargo/"])
    assert not rule_matches("sin embargo, el gobierno", any=["/(?<!sin )embargo/"])
    assert rule_matches("Die BIS-Liste", any=["{/\\bBIS\\b/}"])
    assert not rule_matches("bis morgen", any=["{/\\bBIS\\b/}"])


def test_a_runaway_regex_gives_up_instead_of_hanging():
    text = "x" * 20_000
    # catastrophic backtracking: unbounded, this search would run for ages
    assert not rule_matches(text, any=["/(x+x+)+y/"])
    assert rule_matches(text + " export controls", any=["/(x+x+)+y/", "export controls"])


@pytest.mark.parametrize("field,value,message", [
    ("query", "(Huawei OR ZTE", "missing ) at position 15"),
    ("query", "Huawei AND", "the query ends too early at position 11"),
    ("query", "Huawei NEAR/2 (ban AND x)", "NEAR needs terms"),
    ("any", ["export*controls"], "a * can only start or end a term"),
    ("any", ["/[unclosed/"], "bad regular expression"),
    ("any", ["/a*/"], "matches the empty string"),
])
def test_rule_faults_are_config_errors_with_rule_and_position(tmp_path, field, value, message):
    from conftest import _toml
    path = tmp_path / "config.toml"
    path.write_text(f'[[rules]]\nname = "huawei"\n{field} = {_toml(value)}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path, environ={})
    where = 'rules[0] "huawei".' + (field if field == "query" else f"{field}[0]")
    assert any(p.startswith(where) and message in p for p in caught.value.problems), caught.value.problems


def test_all_rule_faults_are_reported_with_other_faults(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[monitor]\ninterval = "x"\n[[rules]]\nname = "a"\nquery = "(b"\n'
                    '[[rules]]\nname = "c"\nany = ["*"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path, environ={})
    text = "\n".join(caught.value.problems)
    assert "monitor.interval" in text and 'rules[0] "a".query' in text and 'rules[1] "c".any[0]' in text


def test_explain_says_why_a_rule_did_not_match():
    rules = RuleSet([
        RuleSpec("langs", any=("Huawei",), languages=("de",)),
        RuleSpec("veto", any=("Huawei",), none=("review",)),
        RuleSpec("needs", any=("Huawei",), all=("ban",)),
        RuleSpec("query", query="Huawei AND (ban OR sanctions)"),
        RuleSpec("local", terms={"de": ("Verbot",)}),
        RuleSpec("yes", any=("Huawei",)),
    ])
    verdicts = {v.rule: v for v in rules.explain(Article("Huawei review", "The Mate is fast.", "en", 0.99))}
    assert "the article is in en; the rule wants de" in verdicts["langs"].reasons[0]
    assert verdicts["veto"].reasons[0].startswith("none: 'review' occurs: Huawei review")
    assert verdicts["needs"].reasons == ["all: 'ban' does not occur"]
    assert verdicts["query"].reasons == ["query: ban OR sanctions: none of these occurs"]
    assert verdicts["local"].reasons == ["terms: the rule lists none for en"]
    assert verdicts["yes"].matched and verdicts["yes"].hits[0].field == "title"
    hit = verdicts["yes"].hits[0]
    assert hit.snippet[hit.mark[0]:hit.mark[1]] == "Huawei"


def test_prefilter_is_the_rules_relaxed():
    rules = RuleSet([RuleSpec("a", query="(Huawei OR ZTE) NEAR/10 (ban OR sanctions OR removed OR excluded)"),
                     RuleSpec("b", any=("ban",), all=("Nvidia",)),
                     RuleSpec("c", any=("kontrol* eksport*",))])
    assert not rules.could_match("A ban on smoking was removed and sanctions excluded.")   # no Huawei, no Nvidia
    assert not rules.could_match("Huawei phones")                # a needs a restriction word too
    assert rules.could_match("Huawei phones; far away, a ban")   # proximity is not checked: maybe a
    assert not rules.could_match("Nvidia results")               # b needs "ban" as well
    assert rules.could_match("Nvidia ban")
    assert not rules.could_match("Kontrolle der Grenzen")        # c needs both words of its phrase
    assert rules.could_match("eksportu ... kontroli")


def test_prefilter_never_rejects_what_could_match():
    rules = RuleSet([RuleSpec("a", any=("Exportkontroll*",)), RuleSpec("b", query="title:H20 AND Nvidia")])
    assert rules.could_match("<nav>Home</nav> neue Exportkontrollen")
    assert rules.could_match("Nvidia H20")
    assert not rules.could_match("H20")
    assert not rules.could_match("Fußball am Wochenende")
    # a rule that can hold without any of its terms (NOT ...) or with a regex: no prefiltering
    assert RuleSet([RuleSpec("n", query="NOT sport")]).could_match("anything")
    # a regex term is searched for in the page
    assert RuleSet([RuleSpec("r", any=("/emb.rgo/",))]).could_match("an embargo")
    assert not RuleSet([RuleSpec("r", any=("/emb.rgo/",))]).could_match("anything")


def test_evidence_is_the_branch_that_held_each_word_once():
    rules = RuleSet([
        RuleSpec("q", query="(Huawei AND Handel) OR (Nvidia AND chip*)"),
        RuleSpec("china", query="(H20 OR H200) AND Nvidi* AND (China OR *china OR Chinese)"),
        RuleSpec("sanctions", any=("sanction*", "sancti*", "Sanktion*", "embargo", "export ban", "blacklist"),
                   all=("Russia",)),
    ])
    text = ("Huawei reported record sales. The chips were shipped by sea. "
            "Nvidia sells its H20 chips in China; China buys H200 too.")
    verdicts = {v.rule: v for v in rules.explain(Article("Markets", text, "en", 1.0))}
    # "chip*" occurs, but not in a branch that held: the (Nvidia AND chip*) branch did, so it is that one's
    assert [hit.term for hit in verdicts["q"].hits] == ["Nvidia", "chip*"]
    # "China" is found by `China` and by `*china`: one line; H200 is not needed once H20 holds
    assert [hit.term for hit in verdicts["china"].hits] == ["H20", "Nvidi*", "China"]
    busy = "Russia faces sanctions; new sanctions, an embargo, an export ban and a blacklist. Sanktionen too."
    (match,) = [m for m in rules.match(Article("Russia", busy, "en", 1.0)) if m.rule == "sanctions"]
    words = [hit.snippet[hit.mark[0]:hit.mark[1]].casefold() for hit in match.hits]
    assert words == ["sanctions", "sanktionen", "embargo", "russia"]   # each word once, a few lines at most,
    # and what is required is never left out


def test_explain_names_the_clause_that_failed():
    rules = RuleSet([
        RuleSpec("either", query="(Huawei AND Handel) OR (Nvidia AND chip*)"),
        RuleSpec("both", query="Nvidia AND chip* AND export*"),
        RuleSpec("near", query="Huawei NEAR/3 ban*"),
        RuleSpec("veto", query="chip* AND NOT review"),
        RuleSpec("titled", query="title:Nvidia AND chip*"),
    ])
    text = "Huawei said nothing at all about the matter, but a ban on chips was announced. A review followed."
    verdicts = {v.rule: v for v in rules.explain(Article("Chips", text, "en", 1.0))}
    assert verdicts["either"].reasons == [
        "query: none of its 2 alternatives holds:",
        '  Huawei AND Handel: "Handel" does not occur',
        '  Nvidia AND chip*: "Nvidia" does not occur',
    ]
    assert verdicts["both"].reasons == ['query: Nvidia AND chip* AND export*: "Nvidia" and "export*" do not occur']
    assert verdicts["near"].reasons == [
        "query: Huawei NEAR/3 ban*: both sides occur, but never within 3 words of each other"]
    assert verdicts["veto"].reasons == ['query: chip* AND NOT review: "review" occurs']
    assert verdicts["titled"].reasons == ['query: title:Nvidia AND chip*: "Nvidia" (in the title) does not occur']
