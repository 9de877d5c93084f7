"""parse_output against the kinds of text real judge models write, and what it must refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgecache.envelope import Label
from judgecache.errors import VerdictParseError
from judgecache.judges.parsing import ParsedOutput, coerce_value, parse_output
from judgecache.judges.rubric import Rubric, get_rubric, load_rubric

RELEVANCE = get_rubric("relevance")
FAITHFULNESS = get_rubric("faithfulness")
YES_NO = load_rubric(Path(__file__).resolve().parents[2] / "configs/rubrics/answers_question.yaml")
SUPPORTED_WORDS = Rubric(
    name="supported-words",
    task="faithfulness",
    fields=("context", "answer"),
    template="{context}\n{answer}",
    labels=(0, 1),
    positive_from=1,
    parser="label",
    label_names={"0": "unsupported", "1": "supported"},
)


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("##final score: 2", 2),
        ("##final score: 3\n", 3),
        ("Final score: 2.", 2),
        ("**Score:** 3", 3),
        ("**Final Score:** **1**", 1),
        ("M: 2\nT: 1\nO: 2\n##final score: 2", 2),
        ("Provide each score in the format of: ##final score: score\n##final score: 1", 1),
        ("Intent: how big goldfish get.\nM = 3, T = 2\n##final score: 3", 3),
        ("The final score is 1.", 1),
        ("final_score: 0", 0),
        ("Score: 3/3", 3),
        ("2", 2),
        ("  3  \n", 3),
        ("**2**", 2),
        ("I would rate this passage a 2.", 2),
        ("Final score: highly relevant", 2),
        ('```json\n{"final_score": 2}\n```', 2),
        ("Score: 2\n\n##final score: 1", 1),
        ("Final score (O): 2", 2),
        (
            "##Final Score: 2\n\nThe passage gives the answer among other facts.",
            2,
        ),  # "final score" outranks a plain "score"
        ("The score is based on intent.\n##final score: 0", 0),
    ],
)
def test_relevance_outputs(raw: str, label: int) -> None:
    assert parse_output(RELEVANCE, raw) == ParsedOutput(label, None, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("##final score: 5", "final score 5 is not one of the labels [0, 1, 2, 3]"),
        ("##final score: 2.5", "2.5 is not one of the labels"),
        ("final score: -1", "-1 is not one of the labels"),
        ("M: 2, T: 1", "no 'final_score' answer found"),
        ("The passage is about goldfish.", "no 'final_score' answer found"),
        ("", "the output is empty"),
        ("   \n", "the output is empty"),
        ('{"label": true}', "is a boolean but the scale is"),
    ],
)
def test_relevance_refusals_carry_raw_output(raw: str, message: str) -> None:
    with pytest.raises(VerdictParseError) as info:
        parse_output(RELEVANCE, raw)
    assert message in str(info.value)
    assert info.value.raw_output == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            '{"label": 1, "reason": "All claims follow."}',
            ParsedOutput(1, None, "All claims follow."),
        ),
        (
            '```json\n{"label": 0, "reason": "It contradicts the date."}\n```',
            ParsedOutput(0, None, "It contradicts the date."),
        ),
        (
            'Here is my verdict:\n{"label": "supported", "reason": "fine"}\nHope this helps!',
            ParsedOutput(1, None, "fine"),
        ),
        ('{"label": "unsupported"}', ParsedOutput(0, None, None)),
        ('{"label": "1"}', ParsedOutput(1, None, None)),
        ('{"Label": 0, "Reason": "x"}', ParsedOutput(0, None, "x")),
        ('{"label": 1, "score": 0.92, "reason": "ok"}', ParsedOutput(1, 0.92, "ok")),
        ('{"verdict": "Supported", "explanation": "e"}', ParsedOutput(1, None, "e")),
        ('{"result": {"label": 0}}', ParsedOutput(0, None, None)),
        (
            '{"label": 1, "reason": "braces {like this} in text"}  ',
            ParsedOutput(1, None, "braces {like this} in text"),
        ),
        ("Label: supported", ParsedOutput(1, None, None)),
        ("1", ParsedOutput(1, None, None)),
        ("Unsupported.", ParsedOutput(0, None, None)),
    ],
)
def test_faithfulness_json_outputs(raw: str, expected: ParsedOutput) -> None:
    assert parse_output(FAITHFULNESS, raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        '{"label": "maybe"}',
        '{"label": 2, "reason": "very supported"}',
        '{"reason": "I could not decide"}',
        "I think it is supported.",
        "Yes",  # faithfulness names its labels supported/unsupported, not yes/no
    ],
)
def test_faithfulness_refusals(raw: str) -> None:
    with pytest.raises(VerdictParseError) as info:
        parse_output(FAITHFULNESS, raw)
    assert info.value.raw_output == raw


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("Yes", 1),
        ("no.", 0),
        ("**Yes**", 1),
        ("Answer: no", 0),
        ("The passage does not answer it. No.", 0),
        ("yes, it names the dose.", 1),
        ('{"label": "yes"}', 1),
    ],
)
def test_yes_no_rubric(raw: str, label: int) -> None:
    assert parse_output(YES_NO, raw).label == label


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("It is not a yes.", "negated"),
        ("Yes and no, it depends.", "several labels"),
        ("Maybe.", "no 'label' answer found"),
    ],
)
def test_yes_no_rubric_refusals(raw: str, why: str) -> None:
    with pytest.raises(VerdictParseError, match=why):
        parse_output(YES_NO, raw)


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("The answer is supported by the context.", 1),
        ("Verdict: unsupported", 0),
        ("UNSUPPORTED", 0),
    ],
)
def test_label_words(raw: str, label: int) -> None:
    assert parse_output(SUPPORTED_WORDS, raw).label == label


def test_negated_label_word_is_refused_not_flipped() -> None:
    with pytest.raises(VerdictParseError, match="negated"):
        parse_output(SUPPORTED_WORDS, "The answer is not supported by the context.")


@pytest.mark.parametrize(
    ("value", "label"),
    [(2, 2), ("2", 2), ("2.0", 2), (" 3 ", 3), (2.0, 2), ("Perfectly Relevant", 3), ("1/3", 1)],
)
def test_coerce_value(value: object, label: Label) -> None:
    assert coerce_value(RELEVANCE, value) == label


@pytest.mark.parametrize("value", [True, 2.5, float("nan"), "four", 4])
def test_coerce_value_refuses(value: object) -> None:
    with pytest.raises(ValueError, match=r"labels|finite|boolean"):
        coerce_value(RELEVANCE, value)
