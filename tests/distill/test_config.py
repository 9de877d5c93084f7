"""Distill configs: YAML, unknown keys, allowed values, overrides; the shipped configs load."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgecache.distill.config import DistillConfig
from judgecache.errors import ConfigError

pytestmark = pytest.mark.distill
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "distill"


@pytest.mark.parametrize("name", ["relevance.yaml", "faithfulness.yaml"])
def test_shipped_configs_load(name: str) -> None:
    cfg = DistillConfig.from_yaml(CONFIGS / name)
    assert cfg.task == name.removesuffix(".yaml")


def test_unknown_key_lists_valid_ones(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  epoch: 2\n")
    with pytest.raises(
        ConfigError, match=r"unknown keys \['epoch'\] at train; valid keys: \[.*'epochs'"
    ):
        DistillConfig.from_yaml(p)


def test_bad_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"architecture must be one of \['bi', 'cross'\]"):
        DistillConfig(architecture="tri")
    with pytest.raises(ConfigError, match=r"train\.epochs must be an integer"):
        DistillConfig.from_dict({"train": {"epochs": "two"}})
    with pytest.raises(ConfigError, match=r"target_precision must be in"):
        DistillConfig().with_overrides(["threshold.target_precision=1.5"])


def test_overrides_parse_yaml_values() -> None:
    cfg = DistillConfig().with_overrides(
        ["lora.target_modules=[query, key]", "lora.layers=[4, 5]", "judge=null"]
    )
    assert cfg.lora.target_modules == ["query", "key"]
    assert cfg.lora.layers == [4, 5]
    with pytest.raises(ConfigError, match=r"must look like section\.key=value"):
        DistillConfig().with_overrides(["lora.r"])
