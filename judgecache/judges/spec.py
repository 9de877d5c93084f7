"""Build a teacher from a one-line spec such as ``openai:gpt-4o-mini`` (CLI ``--judge``, configs).

Keyword ``options`` go to the teacher's constructor (``temperature``, ``api_key_env``,
``version``...); an option the teacher does not take is a ConfigError listing the ones it does.
Heavy or optional teachers (students, cascades) are imported only when their spec is used.

Example:
    >>> t = teacher_from_spec("openai:gpt-4o-mini", temperature=0.0)
    >>> str(t.identity), t.key_params()["max_tokens"]
    ('openai:gpt-4o-mini', 256)
    >>> teacher_from_spec("gemini:pro")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    judgecache.errors.ConfigError: unknown judge provider 'gemini' in spec 'gemini:pro'; valid specs:...
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from judgecache.errors import ConfigError, MissingDependencyError
from judgecache.judges.teacher import Teacher

SPEC_HELP = """\
  openai:MODEL                          OpenAI chat completions; key from $OPENAI_API_KEY
  anthropic:MODEL                       Anthropic messages; key from $ANTHROPIC_API_KEY
  openai-compatible:MODEL@BASE_URL      vLLM, Ollama, LiteLLM...; no key unless api_key_env=VAR
                                        (or openai-compatible:MODEL with the base_url option)
  replay:PATH.jsonl                     recorded labels: {"query","doc","label"} or
                                        {"context","answer","label"} rows
  replay:trec:QRELS,TOPICS,COLLECTION   recorded TREC qrels joined with topics and collection
  human:NAME                            human labels imported under that name (never called)
  student:PATH                          a distilled student directory (needs judgecache[distill]);
                                        student:PATH?memory=URL_OR_FILE also reads its teacher's
                                        labels of the same query from a cache or labels file
  embedding:default | embedding:PATH    zero-shot embedding cosine of a local encoder (the
                                        baseline for students; needs judgecache[distill])
  cascade:SPEC                          a cascade of judges (see judgecache.judges.cascade)
  python:MODULE:FUNCTION                a callable fn(first, second), a Teacher, or a Teacher class"""
"""The valid spec forms, one per line (for ``--help`` texts and error messages)."""

PROVIDERS = (
    "openai",
    "anthropic",
    "openai-compatible",
    "replay",
    "human",
    "student",
    "embedding",
    "cascade",
    "python",
)


def teacher_from_spec(spec: str, **options: Any) -> Teacher:
    """The teacher named by ``spec`` (see :data:`SPEC_HELP`), built with ``options``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"empty judge spec; valid specs:\n{SPEC_HELP}")
    provider, sep, rest = spec.strip().partition(":")
    if provider not in PROVIDERS:
        raise ConfigError(
            f"unknown judge provider {provider!r} in spec {spec!r}; valid specs:\n{SPEC_HELP}"
        )
    rest = rest.strip()
    if not sep or not rest:
        raise ConfigError(
            f"judge spec {spec!r} lacks what follows '{provider}:'; valid specs:\n{SPEC_HELP}"
        )
    builder = _BUILDERS[provider]
    return builder(rest, dict(options))


def _construct(factory: Callable[..., Any], what: str, *args: Any, **options: Any) -> Any:
    """Call ``factory`` after checking the option names, so a typo names the valid options."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return factory(*args, **options)
    params = signature.parameters.values()
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        valid = [
            p.name
            for p in list(params)[len(args) :]
            if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ConfigError(f"{what} does not take the options {unknown}; valid options: {valid}")
    return factory(*args, **options)


def _openai(rest: str, options: dict[str, Any]) -> Teacher:
    from judgecache.judges.teachers.openai import OpenAICompatibleTeacher

    teacher: Teacher = _construct(OpenAICompatibleTeacher, "openai:MODEL", rest, **options)
    return teacher


def _anthropic(rest: str, options: dict[str, Any]) -> Teacher:
    from judgecache.judges.teachers.anthropic import AnthropicTeacher

    teacher: Teacher = _construct(AnthropicTeacher, "anthropic:MODEL", rest, **options)
    return teacher


def _openai_compatible(rest: str, options: dict[str, Any]) -> Teacher:
    from judgecache.judges.teachers.openai import OpenAICompatibleTeacher

    # The model may contain '@' (rarely); the base URL is what follows the '@' before http(s)://.
    match = re.fullmatch(r"(?P<model>.+?)@(?P<url>https?://.+)", rest)
    model = match.group("model") if match else rest
    if match:
        if "base_url" in options:
            raise ConfigError(
                f"openai-compatible:{rest}: give the base URL in the spec or as base_url, not both"
            )
        options["base_url"] = match.group("url")
    elif "base_url" not in options:
        raise ConfigError(
            f"openai-compatible:{rest}: no base URL; write openai-compatible:MODEL@BASE_URL "
            "(e.g. openai-compatible:llama3@http://localhost:11434/v1) or pass base_url"
        )
    # Never send an OpenAI key to a third-party server unless asked to.
    options.setdefault("api_key_env", None)
    options.setdefault("provider", "openai-compatible")
    teacher: Teacher = _construct(
        OpenAICompatibleTeacher, "openai-compatible:MODEL", model, **options
    )
    return teacher


def _existing(path: str, spec: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"{spec}: no such file {str(p)!r}")
    return p


def _replay(rest: str, options: dict[str, Any]) -> Teacher:
    from judgecache.judges.teachers.replay import ReplayTeacher

    if rest.startswith("trec:"):
        parts = [p.strip() for p in rest[len("trec:") :].split(",")]
        if len(parts) != 3 or not all(parts):
            raise ConfigError(
                f"replay:{rest}: expected replay:trec:QRELS,TOPICS,COLLECTION (three paths, "
                f"comma-separated), got {len(parts)} part(s)"
            )
        paths = [_existing(p, f"replay:{rest}") for p in parts]
        trec: Teacher = _construct(ReplayTeacher.from_trec, "replay:trec", *paths, **options)
        return trec
    path = _existing(rest, f"replay:{rest}")
    teacher: Teacher = _construct(ReplayTeacher.from_jsonl, "replay:PATH.jsonl", path, **options)
    return teacher


def _human(rest: str, options: dict[str, Any]) -> Teacher:
    from judgecache.judges.teachers.human import HumanLabels

    teacher: Teacher = _construct(HumanLabels, "human:NAME", rest, **options)
    return teacher


def _distill_loader(module_name: str, loader_name: str, spec: str) -> Callable[..., Any]:
    """A loader from the distill extra, imported only now (it pulls in torch)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingDependencyError(_missing_package(exc), "distill") from exc
    loader = getattr(module, loader_name, None)
    if loader is None:
        raise ConfigError(f"{spec} judges are not available: {module_name} has no {loader_name}")
    return loader  # type: ignore[no-any-return]


def _student(rest: str, options: dict[str, Any]) -> Teacher:
    loader = _distill_loader("judgecache.distill.student", "load_student_teacher", "student")
    return _check_teacher(_construct(loader, "student:PATH", rest, **options), f"student:{rest}")


def _embedding(rest: str, options: dict[str, Any]) -> Teacher:
    loader = _distill_loader("judgecache.distill.embedding", "load_embedding_teacher", "embedding")
    path = None if rest == "default" else rest
    teacher = _construct(loader, "embedding:PATH", path, **options)
    return _check_teacher(teacher, f"embedding:{rest}")


def _missing_package(exc: ImportError) -> str:
    name = (exc.name or "torch").split(".")[0]
    # A missing judgecache module means a broken install, but the remedy is the same extra.
    return "torch" if name == "judgecache" else name


def _cascade(rest: str, options: dict[str, Any]) -> Teacher:
    module_name = "judgecache.judges.cascade"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ConfigError("cascade judges are not available in this version of judgecache") from exc
    build = getattr(module, "cascade_from_spec", None)
    if build is None:
        raise ConfigError(f"{module_name} has no cascade_from_spec")
    return _check_teacher(build(rest, **options), f"cascade:{rest}")


def _python(rest: str, options: dict[str, Any]) -> Teacher:
    module_name, sep, attr = rest.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"python:{rest}: expected python:MODULE:FUNCTION (e.g. python:my_judges:grade)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"python:{rest}: cannot import module {module_name!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"python:{rest}: {module_name} has no attribute {attr!r}") from None
    if isinstance(obj, Teacher):
        if options:
            raise ConfigError(
                f"python:{rest} is a Teacher instance and takes no options, got {sorted(options)}"
            )
        return obj
    if inspect.isclass(obj) and issubclass(obj, Teacher):
        return _check_teacher(_construct(obj, f"python:{rest}", **options), f"python:{rest}")
    if not callable(obj):
        raise ConfigError(f"python:{rest} is not callable (got {type(obj).__name__})")
    from judgecache.judges.teachers.callable import CallableTeacher

    options.setdefault("name", f"{module_name}:{attr}")
    teacher: Teacher = _construct(CallableTeacher, f"python:{rest}", obj, **options)
    return teacher


def _check_teacher(obj: object, spec: str) -> Teacher:
    if not isinstance(obj, Teacher):
        raise ConfigError(f"{spec} did not build a Teacher (got {type(obj).__name__})")
    return obj


_BUILDERS: Mapping[str, Callable[[str, dict[str, Any]], Teacher]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "openai-compatible": _openai_compatible,
    "replay": _replay,
    "human": _human,
    "student": _student,
    "embedding": _embedding,
    "cascade": _cascade,
    "python": _python,
}
