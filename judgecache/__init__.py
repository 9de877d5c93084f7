"""judgecache: an evaluation-cost cache and specialist-judge toolkit for LLM-as-judge scoring.

Importing this package never imports torch; distillation lives in ``judgecache.distill``.

Example:
    >>> import judgecache
    >>> judge = judgecache.Judge(lambda q, d: int(q in d), name="contains", version="1",
    ...                          task="faithfulness", cache="memory://")
    >>> judge.score("the sky is blue", "the sky is blue today").label
    1
"""

from __future__ import annotations

from judgecache.envelope import Envelope
from judgecache.errors import (
    BudgetExceededError,
    ConfigError,
    InputError,
    JudgeAPIError,
    JudgecacheError,
    StorageError,
    VerdictParseError,
)
from judgecache.judges.judge import Judge
from judgecache.judges.rubric import Rubric, get_rubric
from judgecache.judges.spec import SPEC_HELP, teacher_from_spec
from judgecache.judges.teacher import Teacher, TeacherAnswer
from judgecache.judges.verdict import Verdict
from judgecache.keys import KEY_SCHEMA_VERSION, JudgeIdentity, KeyMaterial
from judgecache.prices import PriceTable
from judgecache.store import Store, open_store

__version__ = "0.1.0"

__all__ = [
    "KEY_SCHEMA_VERSION",
    "SPEC_HELP",
    "BudgetExceededError",
    "ConfigError",
    "Envelope",
    "InputError",
    "Judge",
    "JudgeAPIError",
    "JudgeIdentity",
    "JudgecacheError",
    "KeyMaterial",
    "PriceTable",
    "Rubric",
    "StorageError",
    "Store",
    "Teacher",
    "TeacherAnswer",
    "Verdict",
    "VerdictParseError",
    "__version__",
    "get_rubric",
    "open_store",
    "teacher_from_spec",
]
