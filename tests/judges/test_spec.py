"""teacher_from_spec: every documented form, and clear errors for the rest."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from judgecache.errors import ConfigError, MissingDependencyError
from judgecache.judges.rubric import get_rubric
from judgecache.judges.spec import SPEC_HELP, teacher_from_spec
from judgecache.judges.teachers.anthropic import AnthropicTeacher
from judgecache.judges.teachers.callable import CallableTeacher
from judgecache.judges.teachers.openai import OpenAICompatibleTeacher
from judgecache.judges.teachers.replay import ReplayTeacher

RELEVANCE = get_rubric("relevance")


def test_openai() -> None:
    teacher = teacher_from_spec("openai:gpt-4o-mini", temperature=0.3, seed=1)
    assert isinstance(teacher, OpenAICompatibleTeacher)
    assert str(teacher.identity) == "openai:gpt-4o-mini"
    assert teacher.key_params() == {"temperature": 0.3, "max_tokens": 256, "seed": 1}


def test_anthropic() -> None:
    teacher = teacher_from_spec("anthropic:claude-3-5-haiku-latest", max_tokens=32)
    assert isinstance(teacher, AnthropicTeacher)
    assert str(teacher.identity) == "anthropic:claude-3-5-haiku-latest"
    assert teacher.key_params()["max_tokens"] == 32


def test_openai_compatible_in_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leave")
    teacher = teacher_from_spec("openai-compatible:llama3.1:8b@http://localhost:11434/v1")
    assert isinstance(teacher, OpenAICompatibleTeacher)
    assert str(teacher.identity) == "openai-compatible:llama3.1:8b"
    request = teacher.prepare(RELEVANCE, {"query": "q", "doc": "d"})
    assert request.url == "http://localhost:11434/v1/chat/completions"
    # An OpenAI key is never sent to a third-party server unless asked for.
    assert "authorization" not in request.headers


def test_openai_compatible_with_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_KEY", "sk-litellm")
    teacher = teacher_from_spec(
        "openai-compatible:judge-model",
        base_url="https://llm.internal/v1",
        api_key_env="LITELLM_KEY",
    )
    assert isinstance(teacher, OpenAICompatibleTeacher)
    request = teacher.prepare(RELEVANCE, {"query": "q", "doc": "d"})
    assert request.headers["authorization"] == "Bearer sk-litellm"
    assert request.url == "https://llm.internal/v1/chat/completions"


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(ConfigError, match="no base URL"):
        teacher_from_spec("openai-compatible:llama3")
    with pytest.raises(ConfigError, match="not both"):
        teacher_from_spec("openai-compatible:m@http://a/v1", base_url="http://b/v1")


def test_replay_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "gpt-4o.jsonl"
    path.write_text(json.dumps({"query": "q", "doc": "d", "label": 2}) + "\n")
    teacher = teacher_from_spec(f"replay:{path}", version="v1")
    assert isinstance(teacher, ReplayTeacher)
    assert str(teacher.identity) == "replay:gpt-4o@v1"
    assert teacher.judge(RELEVANCE, {"query": "q", "doc": "d"}).label == 2


def test_replay_trec(tmp_path: Path) -> None:
    (tmp_path / "topics.tsv").write_text("1\tquery one\n")
    (tmp_path / "collection.tsv").write_text("d1\tpassage one\n")
    (tmp_path / "qrels.human.txt").write_text("1 Q0 d1 3\n")
    spec = f"replay:trec:{tmp_path}/qrels.human.txt,{tmp_path}/topics.tsv,{tmp_path}/collection.tsv"
    teacher = teacher_from_spec(spec, name="nist")
    assert str(teacher.identity) == "replay:nist"
    assert teacher.judge(RELEVANCE, {"query": "query one", "doc": "passage one"}).label == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("replay:trec:a,b", "three paths"),
        ("replay:trec:a,b,c", "no such file 'a'"),
        ("replay:/nonexistent/labels.jsonl", "no such file"),
        ("openai:", "lacks what follows 'openai:'"),
        ("openai", "lacks what follows"),
        ("", "empty judge spec"),
        ("python:no_colon_here", "expected python:MODULE:FUNCTION"),
        ("python:judgecache_no_such_module:f", "cannot import module"),
        ("python:json:no_such_function", "has no attribute 'no_such_function'"),
        ("python:json:__doc__", "is not callable"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        teacher_from_spec(spec)


def test_unknown_provider_lists_the_valid_forms() -> None:
    with pytest.raises(ConfigError) as info:
        teacher_from_spec("gemini:pro")
    message = str(info.value)
    assert "unknown judge provider 'gemini'" in message
    for form in (
        "openai:MODEL",
        "anthropic:MODEL",
        "openai-compatible:MODEL@BASE_URL",
        "replay:PATH.jsonl",
        "replay:trec:QRELS,TOPICS,COLLECTION",
        "student:PATH",
        "embedding:default",
        "cascade:",
        "python:MODULE:FUNCTION",
    ):
        assert form in message
        assert form in SPEC_HELP


def test_unknown_option_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"does not take the options \['temprature'\]") as info:
        teacher_from_spec("openai:gpt-4o", temprature=0.1)
    assert "'temperature'" in str(info.value)


@pytest.fixture
def judges_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real importable module with a function, a Teacher instance and a Teacher class."""
    name = "jc_spec_test_judges"
    (tmp_path / f"{name}.py").write_text(
        "from judgecache.judges.teachers.callable import CallableTeacher\n"
        "def contains(q, d):\n"
        "    return 3 if q in d else 0\n"
        "INSTANCE = CallableTeacher(contains, name='instance', version='9')\n"
        "class Fixed(CallableTeacher):\n"
        "    def __init__(self, grade=1):\n"
        "        super().__init__(lambda q, d: grade, name='fixed', version=str(grade))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_python_function(judges_module: str) -> None:
    teacher = teacher_from_spec(f"python:{judges_module}:contains", version="3")
    assert isinstance(teacher, CallableTeacher)
    assert str(teacher.identity) == f"callable:{judges_module}:contains@3"
    assert teacher.judge(RELEVANCE, {"query": "tea", "doc": "tea time"}).label == 3


def test_python_teacher_instance_and_class(judges_module: str) -> None:
    assert (
        str(teacher_from_spec(f"python:{judges_module}:INSTANCE").identity) == "callable:instance@9"
    )
    with pytest.raises(ConfigError, match="takes no options"):
        teacher_from_spec(f"python:{judges_module}:INSTANCE", version="1")
    fixed = teacher_from_spec(f"python:{judges_module}:Fixed", grade=2)
    assert fixed.judge(RELEVANCE, {"query": "q", "doc": "d"}).label == 2


def test_student_without_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # `import torch` fails when sys.modules holds None for it: the state of an install without it.
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "judgecache.distill.student", raising=False)
    with pytest.raises(
        MissingDependencyError, match=r"pip install 'judgecache\[distill\]'"
    ) as info:
        teacher_from_spec("student:/models/student")
    assert info.value.package == "torch"


def test_cascade_missing_module_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "judgecache.judges.cascade", None)
    with pytest.raises(ConfigError, match="cascade judges are not available"):
        teacher_from_spec("cascade:student:/m>openai:gpt-4o")


def test_cascade_delegates_to_cascade_from_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    module = types.ModuleType("judgecache.judges.cascade")

    def cascade_from_spec(spec: str, **options: Any) -> CallableTeacher:
        seen.append((spec, options))
        return CallableTeacher(lambda q, d: 0, name="cascade")

    module.cascade_from_spec = cascade_from_spec  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "judgecache.judges.cascade", module)
    teacher = teacher_from_spec("cascade:a>b", threshold=0.5)
    assert str(teacher.identity) == "callable:cascade"
    assert seen == [("a>b", {"threshold": 0.5})]


def test_embedding_without_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "judgecache.distill.embedding", raising=False)
    monkeypatch.delitem(sys.modules, "judgecache.distill.model", raising=False)
    with pytest.raises(MissingDependencyError, match=r"judgecache\[distill\]"):
        teacher_from_spec("embedding:default")


@pytest.mark.distill
@pytest.mark.slow
def test_embedding_default_loads_the_packaged_encoder() -> None:
    teacher = teacher_from_spec("embedding:default")
    assert teacher.identity.provider == "embedding"
    close = teacher.judge(
        RELEVANCE, {"query": "capital of France", "doc": "Paris is the capital of France."}
    )
    far = teacher.judge(RELEVANCE, {"query": "capital of France", "doc": "Goldfish grow slowly."})
    assert isinstance(close.label, int) and isinstance(far.label, int)
    assert close.label > far.label
