"""Rules and topics from the config -> a Judge, with every fault named by its key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.relevance.judge import SIMILARITY_THRESHOLD, Judge, Mode, RulePlan, Topic

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.rules import RuleSet


def build_judge(settings: "Settings", ruleset: "RuleSet", *, models: bool = True
                ) -> tuple[Judge, list[tuple[int, str, str]], list[str]]:
    problems: list[tuple[int, str, str]] = []
    warnings: list[str] = []
    topics: dict[str, Topic] = {}
    keyword_rules = {rule.name for rule in ruleset.rules}
    for i, config in enumerate(settings.topics):
        model = None
        if config.model is not None and models:
            from monitor.relevance.model import ModelError, load

            try:
                model = load(config.model)
            except ModelError as exc:
                problems.append((i, "model", str(exc)))
                continue
            unknown = [name for name in model.rules if name not in keyword_rules]
            if unknown:
                warnings.append(f"topic {config.name!r}: its model was trained with rules this config does not "
                                f"have ({', '.join(unknown)}); their signals count as absent: "
                                "run `monitor train` to train it on the current rules")
            if model.anchors != (config.about + config.examples, config.not_about):
                warnings.append(f"topic {config.name!r}: its about, examples or not_about changed since its model "
                                "was trained: run `monitor train` so that the model reads them")
        threshold = config.threshold or (model.threshold if model else SIMILARITY_THRESHOLD)
        topics[config.name] = Topic(config.name, config.about + config.examples, config.not_about, model, threshold)
    plans = [RulePlan(rule.name, rule.topic, Mode(rule.mode), rule.channels)
             for rule in settings.rules]
    return Judge(ruleset, plans, topics), problems, warnings
