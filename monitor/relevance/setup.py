"""Rules and topics from the config -> a Judge, with every fault named by its key."""

from __future__ import annotations

from typing import Sequence

from monitor.relevance.judge import SIMILARITY_THRESHOLD, Judge, RulePlan, Topic
from monitor.relevance.model import ModelError, load
from monitor.relevance.spec import TopicSpec
from monitor.rules import RuleSet, RuleSpec


def build_judge(specs: Sequence[TopicSpec], rules: Sequence[RuleSpec], ruleset: RuleSet, *, models: bool = True
                ) -> tuple[Judge, list[tuple[int, str, str]], list[str]]:
    """The judge of these rules and topics; the topics' faults as ``(topic index, key, message)``, and
    warnings. ``models=False``: the model files are not read."""
    problems: list[tuple[int, str, str]] = []
    warnings: list[str] = []
    topics: dict[str, Topic] = {}
    keyword_rules = {rule.name for rule in ruleset.rules}
    for i, config in enumerate(specs):
        model = None
        if config.model is not None and models:
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
    plans = [RulePlan(rule.name, rule.topic, rule.mode, rule.channels) for rule in rules]
    return Judge(ruleset, plans, topics), problems, warnings
