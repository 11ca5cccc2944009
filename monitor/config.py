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
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from monitor.channels import ChannelTarget, channel_names, read_channels
from monitor.errors import ConfigError
from monitor.web.settings import WebConfig, read_web

DEFAULT_USER_AGENT = "monitor/0.1 (news monitoring; +https://github.com/monitor-news/monitor)"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_LANGUAGE = re.compile(r"[a-z]{2}")


def parse_duration(value: Any) -> timedelta:
    """'30s', '10m', '2h', '1d', '1w' or combinations ('1h30m').

    A bare number is refused, not taken as seconds: ``max_age = 3`` meant three
    days far more often than three seconds, and quietly stopped every alert.
    """
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        raise ValueError(f"bad duration {value!r}: a number needs a unit, e.g. "
                         f"'{number}s', '{number}m', '{number}h' or '{number}d'")
    if isinstance(value, str) and value.strip():
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"bad duration {value!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d")
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError(f"bad duration {value!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d")
    if seconds <= 0:
        raise ValueError(f"bad duration {value!r}: must be longer than zero")
    return timedelta(seconds=seconds)


def _language(value: Any) -> Any:
    if isinstance(value, str) and not _LANGUAGE.fullmatch(value):
        bare = value.split("-")[0].split("_")[0].lower()
        hint = f" (write {bare!r})" if _LANGUAGE.fullmatch(bare) else ""
        raise ValueError(f"bad language {value!r}: use a bare ISO 639-1 code such as 'en' or 'nl'{hint}")
    return value


def _http_url(value: Any) -> Any:
    if isinstance(value, str) and not re.match(r"https?://[^/\s]+", value):
        raise ValueError(f"bad URL {value!r}: must start with http:// or https:// and name a host")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Language = Annotated[str, BeforeValidator(_language)]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
Name = Annotated[str, Field(min_length=1)]
Term = Annotated[str, Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Monitor(_Section):
    database: str = "monitor.db"
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


class _Feed(_Section):
    name: Name
    url: HttpUrl
    interval: Duration | None = None
    language: Language | None = None
    catch_up: bool | None = None


class _Rule(_Section):
    name: Name
    any: list[Term] = []
    all: list[Term] = []
    none: list[Term] = []
    terms: dict[Language, list[Term]] = {}
    query: Annotated[str, Field(min_length=1)] | None = None
    languages: list[Language] = []
    channels: list[Name] | None = None
    topic: Name | None = None
    mode: Literal["keywords", "topic", "either", "both"] | None = None


class _Topic(_Section):
    name: Name
    about: list[Term] = []
    examples: list[Term] = []
    not_about: list[Term] = []
    model: Name | None = None
    threshold: Annotated[float, Field(gt=0, le=1)] | None = None


class _Web(_Section):
    listen: Name | None = None
    token: Name | None = None
    token_file: Name | None = None
    stale_after: Duration = timedelta(minutes=1)


class _File(_Section):
    monitor: _Monitor = _Monitor()
    web: _Web = _Web()
    feeds: list[_Feed] = []
    topics: list[_Topic] = []
    rules: list[_Rule] = []
    channels: dict[str, Any] = {}   # each value is checked by _channel_targets


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str
    interval: timedelta
    language: str | None = None
    catch_up: bool = False      # a new feed's first poll alerts what it already holds


@dataclass(frozen=True)
class RuleConfig:
    name: str
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()   # resolved: never empty when channels exist
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)   # language -> terms for it
    query: str | None = None
    topic: str | None = None
    mode: str = "keywords"           # keywords | topic | either | both (monitor.relevance.Mode)

    @property
    def has_terms(self) -> bool:
        return bool(self.any or self.all or self.terms or self.query)


@dataclass(frozen=True)
class TopicConfig:
    name: str
    about: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    not_about: tuple[str, ...] = ()
    model: Path | None = None        # resolved against the config file's folder
    threshold: float | None = None   # None: the model's own, or the similarity default


@dataclass(frozen=True)
class Settings:
    path: Path
    database: Path
    interval: timedelta
    max_age: timedelta
    private_networks: bool
    timeout: timedelta
    user_agent: str
    feeds: tuple[FeedConfig, ...]
    rules: tuple[RuleConfig, ...]
    targets: tuple[ChannelTarget, ...]   # empty: alerts go to standard output
    topics: tuple[TopicConfig, ...] = ()
    backoff_max: timedelta = timedelta(hours=6)
    notice_after: int = 5
    delivery_attempts: int = 10
    delivery_max_age: timedelta = timedelta(days=2)
    extract_timeout: timedelta = timedelta(seconds=20)
    keep_text: timedelta = timedelta(days=30)
    warnings: tuple[str, ...] = ()
    web: WebConfig = WebConfig()   # the status page, /metrics and /healthz of `monitor run`
    ruleset: Any = field(default=None, repr=False, compare=False)   # the rules, compiled (monitor.rules.RuleSet)
    judge: Any = field(default=None, repr=False, compare=False)     # rules and topics (monitor.relevance.Judge)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.channel for t in self.targets))


def default_config_path(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("MONITOR_CONFIG") or "config.toml")


def load(path: Path | str, environ: dict[str, str] | None = None, *, models: bool = True) -> Settings:
    """Read and validate the config file; raise ConfigError listing every fault.
    ``models=False``: the topics' model files are not read (``monitor train`` writes them)."""
    path = Path(path)
    environ = dict(os.environ if environ is None else environ)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None

    problems: list[str] = []
    parsed: _File | None = None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_describe(error, raw) for error in exc.errors())
    problems.extend(_cross_checks(raw))
    channels = read_channels(raw.get("channels"), environ, path.resolve().parent)
    problems.extend(channels.problems)
    web = WebConfig()
    if parsed is not None:
        web, web_problems = read_web(parsed.web, environ, path.resolve().parent)
        problems.extend(web_problems)
    settings = None
    if parsed is not None and not problems:
        settings = replace(_settings(path, parsed, channels.targets, environ.get("MONITOR_DATABASE")), web=web)
        ruleset, faults = _compile_rules([r for r in settings.rules if r.has_terms])
        faults = [(_index_of(settings.rules, r), key, message) for r, key, message in faults]
    else:   # the schema is broken somewhere: still report every rule's own faults
        ruleset, faults = None, [(i, key, message) for i, rule in enumerate(_loose_rules(raw))
                                 for _, key, message in _compile_rules([rule])[1]]
    problems.extend(f"{_where(('rules', i), raw)}.{key}: {message}" for i, key, message in faults)
    judge = None
    warnings: list[str] = []
    if settings is not None and ruleset is not None:
        from monitor.relevance.setup import build_judge

        judge, topic_problems, topic_warnings = build_judge(settings, ruleset, models=models)
        problems.extend(f"{_where(('topics', i), raw)}.{key}: {message}" for i, key, message in topic_problems)
        warnings.extend(topic_warnings)
    if problems or settings is None:
        raise ConfigError(str(path), sorted(dict.fromkeys(problems), key=_key_order))
    warnings.extend(_query_warnings(path, raw, settings.rules))
    if channels.literal_secrets and path.stat().st_mode & 0o044:
        warnings.append(
            f"{path} holds channel secrets and other users can read it: chmod 600 it, "
            "or move the secrets to ${VARIABLES} or a channel '_file'"
        )
    return replace(settings, ruleset=ruleset, judge=judge, warnings=tuple(warnings))


def _index_of(rules: Sequence[RuleConfig], name: Any) -> int:
    """Faults of the keyword rules name their rule's index among those with terms: map it back."""
    with_terms = [i for i, rule in enumerate(rules) if rule.has_terms]
    return with_terms[name] if isinstance(name, int) and name < len(with_terms) else name


def _query_warnings(path: Path, raw: dict, rules: Sequence[RuleConfig]) -> list[str]:
    """Lower-case and/or/not/near in a query are words to find, not operators: say so."""
    from monitor.rules.query import loose_operators

    warnings = []
    for i, rule in enumerate(rules):
        for word, position in loose_operators(rule.query or ""):
            warnings.append(
                f"{path}: {_where(('rules', i), raw)}.query: {word!r} at position {position} is a word to find, "
                f"not an operator: write {word.upper()} for the operator, or \"{word}\" in quotes for the word"
            )
    return warnings


def _compile_rules(rules: Sequence[RuleConfig]) -> tuple[Any, list[tuple[int, str, str]]]:
    """The compiled RuleSet, or the faults of the rules' terms and queries."""
    from monitor.rules import RulesError, RuleSet

    try:
        return RuleSet(rules), []
    except RulesError as exc:
        return None, exc.problems


def _loose_rules(raw: dict) -> list[RuleConfig]:
    """Rules read leniently from a config that failed validation, to report their own faults too."""
    def strings(value) -> tuple[str, ...]:
        return tuple(v for v in value if isinstance(v, str) and v.strip()) if isinstance(value, list) else ()

    loose = []
    for rule in raw.get("rules") if isinstance(raw.get("rules"), list) else []:
        rule = rule if isinstance(rule, dict) else {}
        terms = rule.get("terms") if isinstance(rule.get("terms"), dict) else {}
        query = rule.get("query")
        loose.append(RuleConfig(
            name=str(rule.get("name", "")), any=strings(rule.get("any")), all=strings(rule.get("all")),
            none=strings(rule.get("none")), terms={str(k): strings(v) for k, v in terms.items()},
            query=query if isinstance(query, str) and query.strip() else None,
        ))
    return loose


def _settings(path: Path, parsed: _File, targets: list[ChannelTarget], database_override: str | None) -> Settings:
    m = parsed.monitor
    channel_names = tuple(dict.fromkeys(t.channel for t in targets))
    if database_override:
        database = Path(database_override).expanduser().resolve()   # $MONITOR_DATABASE: relative to the cwd
    else:
        database = Path(m.database).expanduser()
        if not database.is_absolute():
            database = path.resolve().parent / database
    return Settings(
        path=path,
        database=database,
        interval=m.interval,
        max_age=m.max_age,
        private_networks=m.private_networks,
        timeout=m.timeout,
        user_agent=m.user_agent,
        feeds=tuple(
            FeedConfig(f.name, f.url, f.interval or m.interval, f.language,
                       m.catch_up if f.catch_up is None else f.catch_up) for f in parsed.feeds
        ),
        rules=tuple(
            RuleConfig(
                name=r.name,
                any=tuple(r.any),
                all=tuple(r.all),
                none=tuple(r.none),
                languages=tuple(r.languages),
                channels=tuple(r.channels) if r.channels else channel_names,
                terms={lang: tuple(items) for lang, items in r.terms.items()},
                query=r.query,
                topic=r.topic,
                mode=r.mode or ("keywords" if not r.topic else "either" if _has_terms(r) else "topic"),
            )
            for r in parsed.rules
        ),
        topics=tuple(
            TopicConfig(
                name=t.name, about=tuple(t.about), examples=tuple(t.examples), not_about=tuple(t.not_about),
                model=_relative(path, t.model) if t.model else None, threshold=t.threshold,
            )
            for t in parsed.topics
        ),
        targets=tuple(targets),
        backoff_max=m.backoff_max,
        notice_after=m.notice_after,
        delivery_attempts=m.delivery_attempts,
        delivery_max_age=m.delivery_max_age,
        extract_timeout=m.extract_timeout,
        keep_text=m.keep_text,
    )


def _has_terms(rule: _Rule) -> bool:
    return bool(rule.any or rule.all or rule.terms or rule.query)


def _relative(config: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else config.resolve().parent / path


def _where(loc: tuple, raw: dict) -> str:
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


def _describe(error: dict, raw: dict) -> str:
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


def _key_order(problem: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"\[(\d+)\]", problem))


def _cross_checks(raw: dict) -> list[str]:
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
    rules = raw.get("rules") if isinstance(raw.get("rules"), list) else []
    topics = raw.get("topics") if isinstance(raw.get("topics"), list) else []
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
