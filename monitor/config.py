"""TOML -> frozen, validated settings.

Everything is checked at load time and every fault is reported at once, each
naming the file and the key (``feeds[2] "tweakers".interval: bad duration``).
Channel URLs are checked by apprise itself, so a URL that loads here is one
apprise can send to. The loaded settings hold secrets only in
``ChannelTarget.url``, which is left out of every repr.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Mapping, Sequence

from pydantic import BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from monitor.channels import ChannelTarget, channel_names, read_channels
from monitor.errors import ConfigError, RulesError
from monitor.feed import Feed
from monitor.fields import AnyPath, Duration, Name, Section, listed, parse_duration
from monitor.relevance.judge import Judge
from monitor.relevance.setup import build_judge
from monitor.relevance.spec import TopicSpec
from monitor.rules import RuleSet, RuleSpec
from monitor.rules.query import loose_operators
from monitor.web.settings import WebConfig, WebSection, read_web

__all__ = ["Options", "Settings", "default_config_path", "load", "parse_duration"]

DEFAULT_USER_AGENT = "monitor/0.1 (news monitoring; +https://github.com/monitor-news/monitor)"


class Options(Section):
    """The ``[monitor]`` table. Each default is here, and only here."""

    database: AnyPath = Path("monitor.db")    # relative: to the config file's folder
    interval: Duration = timedelta(minutes=10)
    max_age: Duration = timedelta(days=2)
    private_networks: bool = False
    timeout: Duration = timedelta(seconds=30)
    user_agent: Name = DEFAULT_USER_AGENT
    backoff_max: Duration = timedelta(hours=6)
    notice_after: Annotated[int, Field(ge=0)] = 5
    delivery_attempts: Annotated[int, Field(ge=1)] = 10
    delivery_max_age: Duration = timedelta(days=2)
    extract_timeout: Duration = timedelta(seconds=20)
    keep_text: Duration = timedelta(days=30)
    catch_up: bool = False


_LISTED = BeforeValidator(listed)


class _File(Section):
    """The whole file, as written."""

    monitor: Options = Options()
    web: WebSection = WebSection()
    feeds: Annotated[tuple[Feed, ...], _LISTED] = ()
    topics: Annotated[tuple[TopicSpec, ...], _LISTED] = ()
    rules: Annotated[tuple[RuleSpec, ...], _LISTED] = ()
    channels: dict[str, Any] = {}   # each value is checked by monitor.channels.read_channels


class Settings(Options):
    """The config, checked and resolved: the [monitor] options, then what the other tables hold.

    ``database`` is absolute; every feed has its interval, every rule its channels and mode,
    every topic its model's absolute path; ``ruleset`` and ``judge`` are the rules compiled."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: Path
    feeds: tuple[Feed, ...]
    rules: tuple[RuleSpec, ...]
    topics: tuple[TopicSpec, ...] = ()
    targets: tuple[ChannelTarget, ...]   # empty: alerts go to standard output
    warnings: tuple[str, ...] = ()
    web: WebConfig = WebConfig()   # the status page, /metrics and /healthz of `monitor run`
    ruleset: RuleSet = Field(repr=False)
    judge: Judge = Field(repr=False)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.channel for t in self.targets))


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("MONITOR_CONFIG") or "config.toml")


def load(path: Path | str, environ: dict[str, str] | None = None, *, models: bool = True) -> Settings:
    """Read and validate the config file; raise ConfigError listing every fault.
    ``models=False``: the topics' model files are not read (``monitor train`` writes them)."""
    path = Path(path)
    env: dict[str, str] = dict(os.environ if environ is None else environ)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None

    folder = path.resolve().parent
    problems: list[str] = []
    parsed: _File | None = None
    try:
        parsed = _File.model_validate(raw, context={"feed_defaults": _feed_defaults(raw), "folder": folder})
    except ValidationError as exc:
        problems.extend(_describe(error, raw) for error in exc.errors())
    problems.extend(_cross_checks(raw))
    channels = read_channels(raw.get("channels"), env, folder)
    problems.extend(channels.problems)
    web = WebConfig()
    if parsed is not None:
        web, web_problems = read_web(parsed.web, env, folder)
        problems.extend(web_problems)
    rules: tuple[RuleSpec, ...] = ()
    if parsed is not None and not problems:
        every_channel = tuple(dict.fromkeys(t.channel for t in channels.targets))
        rules = tuple(r if r.channels else r.model_copy(update={"channels": every_channel}) for r in parsed.rules)
        keyword_rules = [r for r in rules if r.has_terms]
        ruleset, faults = _compile_rules(keyword_rules)
        faults = [(_index_of(rules, r), key, message) for r, key, message in faults]
    else:   # the schema is broken somewhere: still report every rule's own faults
        ruleset, faults = None, [(i, key, message) for i, rule in enumerate(_loose_rules(raw))
                                 for _, key, message in _compile_rules([rule])[1]]
    problems.extend(f"{_where(('rules', i), raw)}.{key}: {message}" for i, key, message in faults)
    judge = None
    warnings: list[str] = []
    if parsed is not None and ruleset is not None:
        judge, topic_problems, topic_warnings = build_judge(parsed.topics, rules, ruleset, models=models)
        problems.extend(f"{_where(('topics', i), raw)}.{key}: {message}" for i, key, message in topic_problems)
        warnings.extend(topic_warnings)
    if problems or parsed is None or ruleset is None or judge is None:
        raise ConfigError(str(path), sorted(dict.fromkeys(problems), key=_key_order))
    warnings.extend(_query_warnings(path, raw, rules))
    if channels.literal_secrets and path.stat().st_mode & 0o044:
        warnings.append(
            f"{path} holds channel secrets and other users can read it: chmod 600 it, "
            "or move the secrets to ${VARIABLES} or a channel '_file'"
        )
    options = parsed.monitor
    database = options.database
    if env.get("MONITOR_DATABASE"):
        database = Path(env["MONITOR_DATABASE"]).expanduser().resolve()   # relative to the cwd
    elif not database.is_absolute():
        database = folder / database
    return Settings.model_construct(
        **{**dict(options), "database": database}, path=path, feeds=parsed.feeds, rules=rules,
        topics=parsed.topics, targets=tuple(channels.targets), warnings=tuple(warnings), web=web, ruleset=ruleset,
        judge=judge,
    )


def _feed_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """What a feed table leaves out comes from [monitor]; a [monitor] with faults (reported on their
    own) lends its defaults."""
    try:
        options = Options.model_validate(raw.get("monitor", {}))
    except ValidationError:
        options = Options()
    return {"interval": options.interval, "catch_up": options.catch_up}


def _index_of(rules: Sequence[RuleSpec], name: int) -> int:
    """Faults of the keyword rules name their rule's index among those with terms: map it back."""
    with_terms = [i for i, rule in enumerate(rules) if rule.has_terms]
    return with_terms[name] if name < len(with_terms) else name


def _query_warnings(path: Path, raw: dict[str, Any], rules: Sequence[RuleSpec]) -> list[str]:
    """Lower-case and/or/not/near in a query are words to find, not operators: say so."""
    warnings = []
    for i, rule in enumerate(rules):
        for word, position in loose_operators(rule.query or ""):
            warnings.append(
                f"{path}: {_where(('rules', i), raw)}.query: {word!r} at position {position} is a word to find, "
                f"not an operator: write {word.upper()} for the operator, or \"{word}\" in quotes for the word"
            )
    return warnings


def _compile_rules(rules: Sequence[RuleSpec]) -> tuple[RuleSet | None, list[tuple[int, str, str]]]:
    """The compiled RuleSet, or the faults of the rules' terms and queries."""
    try:
        return RuleSet(rules), []
    except RulesError as exc:
        return None, exc.problems


def _loose_rules(raw: dict[str, Any]) -> list[RuleSpec]:
    """Rules read leniently from a config that failed validation, to report their own faults too."""
    def strings(value: Any) -> tuple[str, ...]:
        return tuple(v for v in value if isinstance(v, str) and v.strip()) if isinstance(value, list) else ()

    loose = []
    for item in _array(raw, "rules"):
        rule = item if isinstance(item, dict) else {}
        terms = rule.get("terms")
        terms = terms if isinstance(terms, dict) else {}
        query = rule.get("query")
        loose.append(RuleSpec.model_construct(   # unchecked: only its terms and query are compiled
            name=str(rule.get("name", "")), any=strings(rule.get("any")), all=strings(rule.get("all")),
            none=strings(rule.get("none")), terms={str(k): strings(v) for k, v in terms.items()},
            query=query if isinstance(query, str) and query.strip() else None,
        ))
    return loose


def _array(raw: dict[str, Any], key: str) -> list[Any]:
    """An array of tables of the file, or none when the key holds something else."""
    value = raw.get(key)
    return value if isinstance(value, list) else []


def _where(loc: tuple[str | int, ...], raw: dict[str, Any]) -> str:
    """('feeds', 2, 'interval') -> 'feeds[2] "tweakers".interval'."""
    out = ""
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                out += f' "{node["name"]}"'
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


def _describe(error: ErrorDetails, raw: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{_where(loc, raw)}: unknown key"
    if kind == "missing":
        return f"{_where(loc, raw)}: missing required key"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "string_too_short":
        message = "must not be empty"
    if kind in ("string_type", "list_type", "bool_type", "dict_type", "model_type"):
        given = error.get("input")
        # a string is named by its type only: it may be a channel URL, with a token in it
        shown = "" if isinstance(given, str) else f" {given!r}"
        message = f"{message.lower()}, got {type(given).__name__}{shown}"
    return f"{_where(loc, raw)}: {message}"


def _key_order(problem: str) -> tuple[int | str, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"\[(\d+)\]", problem))


def _cross_checks(raw: dict[str, Any]) -> list[str]:
    """Checks that span entries: duplicate names, unknown channels, empty rules."""
    problems: list[str] = []
    for section in ("feeds", "rules", "topics"):
        items = raw.get(section)
        if not isinstance(items, list):
            continue
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                problems.append(
                    f'{section}[{i}] "{name}".name: duplicate name, already used by {section}[{seen[name]}]'
                )
            else:
                seen[name] = i
    channels = channel_names(raw.get("channels"))
    rules = _array(raw, "rules")
    topics = _array(raw, "topics")
    topic_names = [t.get("name") for t in topics if isinstance(t, dict)]
    for i, topic in enumerate(topics):
        if isinstance(topic, dict) and not any(topic.get(key) for key in ("about", "examples", "model")):
            problems.append(f"{_where(('topics', i), raw)}: a topic needs 'about', 'examples' or a 'model'")
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        where = _where(("rules", i), raw)
        has_terms = any(rule.get(key) for key in ("any", "all", "terms", "query"))
        topic, mode = rule.get("topic"), rule.get("mode")
        if isinstance(topic, str) and topic not in topic_names:
            known = ", ".join(str(n) for n in topic_names) or "none are configured"
            problems.append(f"{where}.topic: unknown topic {topic!r} (known: {known})")
        if mode in ("topic", "either", "both") and not topic:
            problems.append(f"{where}.mode: {mode!r} needs a 'topic'")
        if mode in ("keywords", "either", "both") and not has_terms:
            problems.append(f"{where}.mode: {mode!r} needs terms: 'any', 'all', 'terms' or a 'query'")
        elif not has_terms and not topic:
            problems.append(f"{where}: a rule needs terms: 'any', 'all', 'terms' or a 'query', or a 'topic'")
        named = rule.get("channels")
        if isinstance(named, list):
            for name in named:
                if isinstance(name, str) and name not in channels:
                    known = ", ".join(sorted(channels)) or "none are configured"
                    problems.append(f"{where}.channels: unknown channel {name!r} (known: {known})")
    return problems
