"""Keep library chatter (weight-loading bars, deprecation warnings) out of what a user reads.

The command's own progress bars and stage lines are what a user should see; transformers'
"Loading weights" bars and FutureWarnings about its internals are noise there. The command line
calls this once, before any subcommand imports transformers (which reads the environment
variables set here when it is imported); the quickstart calls it for API users.

Example:
    >>> quiet_libraries()
    >>> import os; os.environ["TRANSFORMERS_VERBOSITY"]
    'error'
"""

from __future__ import annotations

import os
import sys
import warnings

NOISY = ("transformers", "peft", "torch", "huggingface_hub", "sklearn")


def quiet_libraries() -> None:
    """Silence library logs and warnings for this process (read by libraries at import time)."""
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for module in NOISY:
        warnings.filterwarnings("ignore", module=module)
    transformers = sys.modules.get("transformers")
    if transformers is not None:
        _quiet_transformers()


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
