"""Root pytest configuration: which docstring examples can be collected here.

``--doctest-modules`` (pyproject addopts) runs the examples of every module in ``judgecache/``.
The distillation modules import torch at module level, so without the distill extra they cannot
be imported at all: they are left out of collection then (with the extra they always run).
"""

from __future__ import annotations

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("torch") else ["judgecache/distill/*"]
