"""Rubrics: the prompt template, the label scale and the parser that turns output into a label.

Two built-ins: ``relevance`` (graded 0-3 on the UMBRELA/TREC scale; binary view = grade >= 2) and
``faithfulness`` (1 = the answer is supported by its context, 0 = it is not). Custom rubrics load
from YAML (see ``configs/rubrics/``).

Example:
    >>> r = get_rubric("relevance")
    >>> r.fields, r.labels, r.is_positive(2)
    (('query', 'doc'), (0, 1, 2, 3), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from judgecache.envelope import Label
from judgecache.errors import ConfigError, InputError

RELEVANCE_SYSTEM = "You are a search quality rater evaluating the relevance of passages to queries."
RELEVANCE_TEMPLATE = """Given a query and a passage, you must provide a score on an integer scale of 0 to 3 with the following meanings:
0 = represent that the passage has nothing to do with the query,
1 = represents that the passage seems related to the query but does not answer it,
2 = represents that the passage has some answer for the query, but the answer may be a bit unclear, or hidden amongst extraneous information and
3 = represents that the passage is dedicated to the query and contains the exact answer.

Important Instruction: Assign category 1 if the passage is somewhat related to the topic but not completely, category 2 if passage presents something very important related to the entire topic but also has some extra information and category 3 if the passage only and entirely refers to the topic. If none of the above satisfies give it category 0.

Query: {query}
Passage: {doc}

Split this problem into steps:
Consider the underlying intent of the search.
Measure how well the content matches a likely intent of the query (M).
Measure how trustworthy the passage is (T).
Consider the aspects above and the relative importance of each, and decide on a final score (O). Final score must be an integer value only.
Do not provide any code in result. Provide each score in the format of: ##final score: score without providing any reasoning."""

FAITHFULNESS_SYSTEM = "You are a careful fact-checker."
FAITHFULNESS_TEMPLATE = """Decide whether the answer is fully supported by the context. An answer is supported when every claim in it follows from the context; anything contradicted by the context or absent from it makes the answer unsupported.

Context: {context}
Answer: {answer}

Reply with a JSON object: {{"label": 1 if the answer is supported else 0, "reason": "<one sentence>"}}"""

PARSERS = ("final_score", "json", "label")


@dataclass(frozen=True)
class Rubric:
    """A judging task: which inputs it takes, what it asks, which labels it allows.

    ``positive_from`` is the smallest label counted as positive in the binary view.
    ``parser`` names how raw output becomes a label: ``final_score`` (``##final score: 2``, or
    the last integer), ``json`` (``{"label": ..., "reason": ...}``) or ``label`` (the first
    allowed label word in the output).
    """

    name: str
    task: str
    fields: tuple[str, str]
    template: str
    labels: tuple[Label, ...]
    positive_from: Label
    system: str = ""
    parser: str = "final_score"
    label_names: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.parser not in PARSERS:
            raise ConfigError(f"rubric {self.name!r}: parser {self.parser!r} not in {PARSERS}")
        if len(self.fields) != 2:
            raise ConfigError(f"rubric {self.name!r}: fields must name exactly two inputs")
        if self.positive_from not in self.labels:
            raise ConfigError(
                f"rubric {self.name!r}: positive_from {self.positive_from!r} not in labels "
                f"{list(self.labels)}"
            )
        for name in self.fields:
            if "{" + name + "}" not in self.template:
                raise ConfigError(f"rubric {self.name!r}: template lacks the field {{{name}}}")

    @property
    def graded(self) -> bool:
        """True when the labels form an ordered scale with more than two steps."""
        return len(self.labels) > 2 and all(isinstance(x, int) for x in self.labels)

    def is_positive(self, label: Label) -> bool:
        """The binary view of a label (relevance: grade >= 2)."""
        return self.labels.index(label) >= self.labels.index(self.positive_from)

    def key_material(self) -> dict[str, Any]:
        """The rubric's part of the cache key: everything that shapes the prompt and the labels."""
        return {
            "rubric": self.name,
            "task": self.task,
            "fields": list(self.fields),
            "system": self.system,
            "template": self.template,
            "labels": list(self.labels),
            "parser": self.parser,
        }

    def inputs(self, first: object, second: object) -> dict[str, str]:
        """Validate the two task inputs and name them (``query``/``doc`` or ``context``/``answer``)."""
        out: dict[str, str] = {}
        for name, value in zip(self.fields, (first, second), strict=True):
            if value is None:
                raise InputError("is missing", field=name)
            if not isinstance(value, str):
                raise InputError(f"must be a string, got {type(value).__name__}", field=name)
            if not value.strip():
                raise InputError("is empty", field=name)
            if not value.isascii():
                _check_encodable(value, name)
            out[name] = value
        return out

    def render(self, inputs: Mapping[str, str]) -> str:
        """The user prompt for one pair."""
        return self.template.format(**{k: inputs[k] for k in self.fields})

    def coerce_label(self, value: object) -> Label:
        """Map a value (``2``, ``"2"``, ``2.0``, ``True``, a label name) onto an allowed label."""
        candidates: list[object] = [value]
        if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
            candidates = [int(value)]
        elif isinstance(value, str):
            text = value.strip().lower()
            candidates = [text, value.strip()]
            if text.lstrip("-").isdigit():
                candidates.insert(0, int(text))
            for label, label_name in self.label_names.items():
                if label_name.lower() == text:
                    candidates.insert(0, self._label_from_str(label))
        for c in candidates:
            for allowed in self.labels:
                if c == allowed and type(c) is type(allowed):
                    return allowed
        raise InputError(f"{value!r} is not one of the labels {list(self.labels)}")

    def _label_from_str(self, label: str) -> Label:
        for allowed in self.labels:
            if str(allowed) == label:
                return allowed
        return label


RELEVANCE = Rubric(
    name="relevance",
    task="relevance",
    fields=("query", "doc"),
    system=RELEVANCE_SYSTEM,
    template=RELEVANCE_TEMPLATE,
    labels=(0, 1, 2, 3),
    positive_from=2,
    parser="final_score",
    label_names={
        "0": "irrelevant",
        "1": "related",
        "2": "highly relevant",
        "3": "perfectly relevant",
    },
)

FAITHFULNESS = Rubric(
    name="faithfulness",
    task="faithfulness",
    fields=("context", "answer"),
    system=FAITHFULNESS_SYSTEM,
    template=FAITHFULNESS_TEMPLATE,
    labels=(0, 1),
    positive_from=1,
    parser="json",
    label_names={"0": "unsupported", "1": "supported"},
)

BUILTIN_RUBRICS: dict[str, Rubric] = {"relevance": RELEVANCE, "faithfulness": FAITHFULNESS}


def load_rubric(path: str | Path) -> Rubric:
    """Load a custom rubric from YAML; unknown keys are an error that lists the valid ones."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read rubric: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a rubric must be a YAML mapping")
    valid = {f.name for f in fields(Rubric)}
    unknown = sorted(set(data) - valid)
    if unknown:
        raise ConfigError(f"{path}: unknown rubric keys {unknown}; valid keys: {sorted(valid)}")
    missing = sorted({"name", "task", "fields", "template", "labels", "positive_from"} - set(data))
    if missing:
        raise ConfigError(f"{path}: missing rubric keys {missing}")
    data["fields"] = tuple(data["fields"])
    data["labels"] = tuple(data["labels"])
    data["label_names"] = {str(k): str(v) for k, v in (data.get("label_names") or {}).items()}
    return Rubric(**data)


def get_rubric(name_or_path: str | Rubric) -> Rubric:
    """A built-in rubric by name (``relevance``, ``faithfulness``) or a YAML rubric by path."""
    if isinstance(name_or_path, Rubric):
        return name_or_path
    if name_or_path in BUILTIN_RUBRICS:
        return BUILTIN_RUBRICS[name_or_path]
    if name_or_path.endswith((".yaml", ".yml")):
        return load_rubric(name_or_path)
    raise ConfigError(
        f"unknown task {name_or_path!r}: expected one of {sorted(BUILTIN_RUBRICS)} or a .yaml rubric"
    )


def _check_encodable(value: str, name: str) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate such as ``"\\ud800"``)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"is not valid Unicode text: lone surrogate {value[exc.start]!r} at character "
            f"{exc.start}",
            field=name,
        ) from None
