"""The exception tree: every error judgecache raises derives from :class:`JudgecacheError`.

Example:
    >>> from judgecache.errors import ConfigError, JudgecacheError
    >>> issubclass(ConfigError, JudgecacheError)
    True
"""

from __future__ import annotations


class JudgecacheError(Exception):
    """Base class of every judgecache error."""


class ConfigError(JudgecacheError, ValueError):
    """A configuration value, spec or file is invalid (names the field and the allowed values)."""


class InputError(JudgecacheError, ValueError):
    """A task input (query, doc, context, answer) or an input file line is invalid."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        where = []
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)
        self.field = field
        self.line = line


class MissingDependencyError(JudgecacheError, ImportError):
    """An optional dependency is not installed; the message carries the pip hint."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'judgecache[{extra}]'"
        )
        self.package = package
        self.extra = extra


class StorageError(JudgecacheError):
    """A cache backend failed (unreachable Redis, unwritable directory, corrupt entry)."""


class JudgeAPIError(JudgecacheError):
    """A teacher call failed. ``retryable`` says whether backing off and trying again may help."""

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(JudgeAPIError):
    """The teacher rejected the credentials (HTTP 401/403) or none were found."""


class RateLimitError(JudgeAPIError):
    """The teacher asked us to slow down (HTTP 429)."""

    retryable = True

    def __init__(
        self, message: str, *, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class TeacherTimeoutError(JudgeAPIError):
    """The teacher did not answer in time."""

    retryable = True


class ServerError(JudgeAPIError):
    """The teacher answered with a 5xx status."""

    retryable = True

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class UnknownPairError(JudgeAPIError):
    """A replay teacher was asked about a pair its recorded labels do not hold."""


class BudgetExceededError(JudgecacheError):
    """The per-run budget (calls or dollars) is spent; everything finished so far is saved."""


class VerdictParseError(JudgecacheError):
    """The teacher's output could not be parsed into a label; ``raw_output`` keeps what it said."""

    def __init__(self, message: str, *, raw_output: str) -> None:
        super().__init__(f"{message}; raw output: {raw_output[:200]!r}")
        self.raw_output = raw_output


class DistillationError(JudgecacheError):
    """Distillation cannot run or continue (bad data, missing base model)."""


class NotFittedError(DistillationError):
    """A calibrator, threshold or student was used before it was fitted."""


class InsufficientDataError(DistillationError):
    """Too few examples, or a class missing from a split, to do what was asked."""


class DriftInputError(JudgecacheError):
    """The drift checker's inputs are unusable (empty or unknown log, mismatched reference)."""
