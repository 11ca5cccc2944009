"""What ships: the default config, the systemd units, the README and CI agree with the code."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

import pytest
from conftest import invoke_monitor
from content import ARTICLES

from monitor import config
from monitor.feed import Feed
from monitor.models import Article
from monitor.relevance.assess import Assessor
from monitor.relevance.spec import TopicSpec
from monitor.rules import RuleSpec
from monitor.web.settings import WebSection

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def shipped():
    return config.load(ROOT / "config.toml", environ={})


def test_shipped_config_has_real_feeds_in_four_languages(shipped):
    assert len(shipped.feeds) >= 12
    languages = [feed.language for feed in shipped.feeds]
    for language in ("en", "de", "nl", "fr"):
        assert languages.count(language) >= 2, language
    assert all(feed.url.startswith("https://") for feed in shipped.feeds)
    assert shipped.targets == ()          # no channel: alerts are printed
    assert shipped.private_networks is False


@pytest.mark.parametrize("slug,relevant", [
    ("en-chips", True), ("en-huawei", True), ("de-exportkontrollen", True), ("nl-exportcontroles", True),
    ("fr-controles", True), ("fr-huawei", True),
    ("en-football", False), ("de-bundesliga", False), ("nl-weer", False), ("zh-weather", False),
])
def test_shipped_rules_on_articles_in_every_language(shipped, encoder, slug, relevant):
    article = ARTICLES[slug]
    assessor = Assessor(shipped.judge, encode=encoder.encode)
    found, _ = assessor.assess_article(Article(article.title, "\n".join(article.paragraphs), article.lang, 1.0))
    assert bool(found) is relevant, [m.rule for m in found]


# Written for this test: stories the shipped config must alert, in their own language.
STORIES = [
    ("de", "USA setzen Exportkontrollen für Nvidias H20-Chips aus",
     "Die US-Regierung setzt die Exportkontrollen für Nvidias KI-Chip H20 vorerst aus. Das Handelsministerium "
     "werde Lizenzen für Lieferungen nach China wieder erteilen, teilte der Konzern mit. Zuvor hatte Washington "
     "die Ausfuhr des Chips an eine Genehmigung geknüpft, was Nvidia Milliarden gekostet hatte."),
    ("nl", "Huawei geeft ontwerpen van zijn telefoons in licentie om Amerikaanse sancties te omzeilen",
     "Huawei gaat de ontwerpen van zijn smartphones in licentie geven aan andere fabrikanten. Door de Amerikaanse "
     "sancties kan het Chinese bedrijf zelf nauwelijks nog chips en onderdelen kopen. Met de licenties hoopt "
     "Huawei zijn merk in leven te houden."),
    ("pl", "Waszyngton odcina kolejne chińskie firmy od amerykańskich technologii",
     "Departament Handlu USA dopisał kilkanaście chińskich firm do listy podmiotów, którym amerykańscy dostawcy "
     "nie mogą sprzedawać technologii bez zezwolenia. Wśród nich są producenci chipów i dronów."),
]


@pytest.mark.parametrize("language,title,text", STORIES, ids=[s[0] for s in STORIES])
def test_the_shipped_config_alerts_stories_in_their_own_language(shipped, encoder, language, title, text):
    from monitor.language import LanguageDetector

    detected = LanguageDetector().detect(f"{title}\n{text}")
    assert detected.code == language
    assessor = Assessor(shipped.judge, encode=encoder.encode)
    found, relevance = assessor.assess_article(Article(title, text, detected.code, detected.confidence))
    assert "sanctions-and-export-controls" in [m.rule for m in found], relevance


def test_validate_accepts_the_shipped_config():
    result = invoke_monitor("validate", "--config", str(ROOT / "config.toml"))
    assert result.code == 0, result.output
    assert "feeds (" in result.stdout and "alerts are printed to standard output" in result.stdout
    assert "  export-licences: query: (licence* OR license* OR licensing) NEAR/8" in result.stdout   # what it needs
    assert "  sanctions: 17 about, 0 examples, 11 not about; model sanctions.npz; threshold 0.50" in result.stdout
    assert "  sanctions-and-export-controls: topic sanctions (topic); languages: all" in result.stdout
    assert "export-controls: any: 3 terms; terms: 69 in 8 languages (en, de, nl, fr, es, it, pl, zh); topic sanctions (both)" in result.stdout


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "systemd" / name)
    return parser


def test_systemd_service_runs_the_daemon_as_its_own_user_with_state():
    unit = _unit("monitor.service")["Service"]
    assert " run --config " in unit["ExecStart"]
    assert unit["Restart"] == "on-failure"
    assert unit["DynamicUser"] == "yes"
    assert unit["StateDirectory"] == "monitor"
    assert unit["Environment"] == "MONITOR_DATABASE=/var/lib/monitor/monitor.db"
    assert unit["RestartPreventExitStatus"] == "2"


def test_systemd_timer_pair_runs_one_pass():
    service = _unit("monitor-check.service")["Service"]
    assert service["Type"] == "oneshot" and " check --config " in service["ExecStart"]
    assert service["StateDirectory"] == "monitor"
    timer = _unit("monitor-check.timer")["Timer"]
    assert timer["OnUnitActiveSec"] and timer["Persistent"] == "true"


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```sh\n(.+?)\n```", README)
    install_and_run, install_and_test = commands[0], commands[1]
    assert "pip install ." in install_and_run and "monitor run --config config.toml" in install_and_run
    assert "[test]" in install_and_test and "pytest" in install_and_test
    assert install_and_test in (ROOT / ".ci" / "run").read_text()


def test_readme_documents_every_config_key():
    for section in (config.Options, Feed, RuleSpec, TopicSpec, WebSection):
        for key in section.model_fields:
            assert f"| `{key}` |" in README, key


def test_readme_config_examples_are_valid(tmp_path):
    (tmp_path / "models").symlink_to(ROOT / "models")   # the topic example names the shipped model
    blocks = re.findall(r"```toml\n(.+?)```", README, re.S)
    assert blocks
    env = {name: "x" * 12 for block in blocks for name in re.findall(r"\$\{(\w+)\}", block)}
    env["TELEGRAM_BOT_TOKEN"] = "123456789:AAbbccddeeffgghhiijjkkllmmnnooppqqr"
    env["TELEGRAM_CHAT_ID"] = "-100123456"
    channels = "[channels]\nmail = \"mailto://localhost?to=a@example.org\"\n"
    for i, block in enumerate(blocks):
        text = block if "[channels]" in block else block + "\n" + channels
        path = tmp_path / f"example{i}.toml"
        path.write_text(text, encoding="utf-8")
        config.load(path, environ=env)
        tomllib.loads(text)


def test_shipped_entity_list_rule_cites_only_the_branch_that_held(shipped):
    text = ("The Commerce Department added fourteen Chinese firms to the Entity List on Friday. The move targets "
            "companies that buy chips for export to third countries, and exporters of semiconductor tools.")
    (match,) = [m for m in shipped.ruleset.match(Article("Entity List grows", text, "en", 1.0))
                if m.rule == "entity-list"]
    # the page has no "BIS": nothing from the ({BIS} NEAR/30 (export* OR ... chip* ...)) branch
    assert [hit.term for hit in match.hits] == ['"Entity List"', "Commerce"]


def test_readme_documents_every_command_and_option():
    import click

    from monitor.cli import cli

    table = README.split("## Commands", 1)[1].split("\n\n", 2)[1]
    for name, command in cli.commands.items():
        assert f"| `monitor {name}" in table, f"the README's command table lacks `monitor {name}`"
        for param in command.params:
            if isinstance(param, click.Option):
                for option in param.opts + param.secondary_opts:
                    if option.startswith("--") and option != "--help":
                        assert option in README, f"the README does not mention `monitor {name} {option}`"
