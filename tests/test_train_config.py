"""Training settings: the recipe's defaults, config files (ours and mistral-finetune's), command-line
precedence, and what a CPU machine resolves them to."""

from __future__ import annotations

import re

import pytest

from fcdata.errors import InputError, UsageError
from fcdata.train.config import DEFAULT_TARGET_MODULES, FROM_SCRATCH, TrainConfig, build_config, load_config_file, merge_overrides, parse_set_option, resolve


def test_defaults_are_the_recipe() -> None:
    cfg = TrainConfig()
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (32, 64, 0.05)
    assert tuple(cfg.lora.target_modules) == DEFAULT_TARGET_MODULES == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert cfg.learning_rate == 2e-4 and cfg.optim == "paged_adamw_8bit"
    assert cfg.bf16 == "auto" and cfg.gradient_checkpointing and cfg.packing
    assert not cfg.full and not cfg.qlora


def test_yaml_and_toml_files(tmp_path) -> None:
    y = tmp_path / "train.yaml"
    y.write_text("learning_rate: 1.0e-3\nlora:\n  r: 8\n  target_modules: [q_proj, v_proj]\nmax_steps: 5\nbf16: false\n")
    values, notes = load_config_file(str(y))
    cfg = merge_overrides(TrainConfig(), values)
    assert cfg.learning_rate == 1e-3 and cfg.lora.r == 8 and cfg.lora.alpha == 64 and cfg.lora.target_modules == ["q_proj", "v_proj"]
    assert cfg.max_steps == 5 and cfg.bf16 is False and notes == []
    t = tmp_path / "train.toml"
    t.write_text('model = "small-mistral"\nfull = true\n[training]\nepochs = 3\n[lora]\ndropout = 0.0\n')
    cfg = merge_overrides(TrainConfig(), load_config_file(str(t))[0])
    assert cfg.model == "small-mistral" and cfg.full and cfg.epochs == 3.0 and cfg.lora.dropout == 0.0


def test_the_hackathon_lora_yaml_is_translated(shared_data) -> None:
    values, notes = load_config_file(str(shared_data / "interactions" / "7B_lora.yaml"))
    cfg = merge_overrides(TrainConfig(), values)
    assert cfg.lora.r == 64 and cfg.lora.alpha == 128 and cfg.lora.dropout == 0.0  # scaling 2.0 x rank
    assert cfg.learning_rate == 1e-4 and cfg.weight_decay == 0.1 and cfg.warmup_ratio == 0.05
    assert cfg.max_steps == 10 and cfg.max_length == 16384 and cfg.gradient_accumulation_steps == 2
    assert cfg.model == "mistral-7B-v0.1" and cfg.seed == 0 and cfg.gradient_checkpointing and not cfg.qlora
    assert any("wandb_project" in n for n in notes) and any("mistral-finetune" in n for n in notes)


def test_a_mistral_finetune_yaml_means_what_it_means_there(tmp_path) -> None:
    """mistral-finetune's example/7B.yaml (its keys, as published at commit 1943535) sets lora.rank and
    leaves scaling, dropout and num_microbatches to mistral-finetune's defaults (2.0, 0.0, 1): alpha 128,
    no dropout, one sequence a step. fcdata used to apply its own (alpha 64, dropout 0.05, batch 2 x 4)."""
    y = tmp_path / "7B.yaml"
    y.write_text(
        'data:\n  instruct_data: ""\nmodel_id_or_path: "tiny-mistral"\nlora:\n  rank: 64\nseq_len: 32768\nbatch_size: 1\n'
        "max_steps: 300\noptim:\n  lr: 6.e-5\n  weight_decay: 0.1\n  pct_start: 0.05\nseed: 0\nlog_freq: 1\n"
    )
    values, notes = load_config_file(str(y))
    cfg = merge_overrides(TrainConfig(), values)
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (64, 128, 0.0)
    assert (cfg.batch_size, cfg.gradient_accumulation_steps, cfg.max_length, cfg.max_steps) == (1, 1, 32768, 300)
    assert cfg.learning_rate == 6e-5 and cfg.warmup_ratio == 0.05 and cfg.weight_decay == 0.1
    assert not any("'batch_size'" in n for n in notes)


def test_precedence_and_set_option() -> None:
    cfg = merge_overrides(TrainConfig(), {"learning_rate": 1e-3, "lora": {"r": 4}})
    cfg = merge_overrides(cfg, parse_set_option(["lora.r=16", "epochs=2", "bf16=auto", "model_config.num_hidden_layers=3", "tokenizer=/x"]))
    assert cfg.lora.r == 16 and cfg.epochs == 2.0 and cfg.learning_rate == 1e-3 and cfg.bf16 == "auto"
    assert cfg.architecture == {"num_hidden_layers": 3} and cfg.tokenizer == "/x"
    assert cfg.to_dict()["model_config"] == {"num_hidden_layers": 3}
    assert merge_overrides(cfg, {"learning_rate": "3e-4"}).learning_rate == 3e-4
    # a whole section given as JSON text on --set is applied, never dropped
    whole = merge_overrides(cfg, parse_set_option(['model_config={"hidden_size": 256, "num_attention_heads": 8}', 'lora={"r": 8}']))
    assert whole.architecture == {"num_hidden_layers": 3, "hidden_size": 256, "num_attention_heads": 8} and whole.lora.r == 8


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"lerning_rate": 1e-3}, "unknown setting 'lerning_rate'"),
        ({"lora.rank": 8}, "unknown LoRA setting"),
        ({"epochs": "many"}, "expected a number"),
        ({"packing": "yes"}, "expected true or false"),
        ({"batch_size": 1.5}, "expected an integer"),
        ({"full": True, "qlora": True}, "choose one"),
        ({"lora.r": 0}, "lora.r must be >= 1"),
        ({"learning_rate": 0}, "learning_rate must be > 0"),
        ({"model_config": {"hidden_size": 128}, "modelconfig": 1}, "unknown setting 'modelconfig'"),
        ({"eval_size": True}, "expected an integer"),
        ({"model_config": "7"}, "model_config must be a mapping"),
        ({"lora": "[8]"}, "lora must be a mapping"),
        ({"render_mode": "full"}, "render_mode"),
        ({"bf16": "maybe"}, "true, false or 'auto'"),
        ({"attn_implementation": "magic"}, "attn_implementation"),
        ({"eval_fraction": 1.5}, "eval_fraction"),
    ],
)
def test_bad_settings_name_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        merge_overrides(TrainConfig(), overrides)


def test_bad_files(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("lora: [unclosed\n")
    with pytest.raises(InputError, match="bad.yaml"):
        load_config_file(str(bad))
    with pytest.raises(InputError, match="no such config file"):
        load_config_file(str(tmp_path / "missing.yaml"))
    other = tmp_path / "x.ini"
    other.write_text("a=1")
    with pytest.raises(InputError, match=r"\.yaml, \.yml, \.toml or \.json"):
        load_config_file(str(other))
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="mapping"):
        load_config_file(str(lst))


def test_resolution_on_a_cpu_says_what_changed() -> None:
    r = resolve(TrainConfig(), device="cpu")
    assert r.optim == "adamw_torch_fused" and r.bf16 is False and r.attn_implementation == "sdpa"
    assert any("paged_adamw_8bit" in n and "CPU" in n for n in r.notes)
    assert any(n.startswith("bf16: off") for n in r.notes)
    assert resolve(merge_overrides(TrainConfig(), {"bf16": True}), device="cpu").bf16 is True
    d = r.to_dict()
    assert d["optim"] == "adamw_torch_fused" and d["lora"]["r"] == 32 and d["device"] == "cpu"
    with pytest.raises(UsageError, match="needs a CUDA GPU"):
        resolve(merge_overrides(TrainConfig(), {"qlora": True}), device="cpu")
    with pytest.raises(UsageError, match="flash-attn"):
        resolve(merge_overrides(TrainConfig(), {"attn_implementation": "flash_attention_2"}), device="cpu")


def test_example_config_lists_the_defaults() -> None:
    """examples/train.yaml documents every setting with its default value."""
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "train.yaml")
    values, notes = load_config_file(path)
    assert notes == []
    assert merge_overrides(TrainConfig(), values) == TrainConfig()
    listed = set(values) | {f"lora.{k}" for k in values.get("lora", {})}
    every = {f.alias or name for name, f in TrainConfig.model_fields.items()} - {"lora", "model_config"}
    assert every <= listed, every - listed


def test_a_forgotten_model_is_said_not_silent(tmp_path) -> None:
    cfg, notes = build_config()
    assert cfg.model == "tiny-mistral" and any("no --model given" in n for n in notes)
    cfg, notes = build_config(named={"model": "small-mistral"})
    assert not any("no --model given" in n for n in notes)
    conf = tmp_path / "c.yaml"
    conf.write_text("model: small-mistral\n")
    cfg, notes = build_config(config_file=str(conf))
    assert cfg.model == "small-mistral" and not any("no --model given" in n for n in notes)


def test_precedence_of_every_layer(tmp_path) -> None:
    """defaults < from-scratch defaults < config file < --set < named options, each layer seen."""
    conf = tmp_path / "c.yaml"
    conf.write_text("learning_rate: 1.0e-3\nepochs: 5\nseed: 3\n")
    cfg, _ = build_config(config_file=str(conf), sets=["epochs=7", "seed=4"], named={"seed": 9, "model": "tiny-mistral", "full": True, "epochs": None})
    assert (cfg.learning_rate, cfg.epochs, cfg.seed) == (1e-3, 7.0, 9)
    assert cfg.max_length == FROM_SCRATCH["max_length"]  # from scratch, not set by any layer


def test_from_scratch_defaults_only_for_a_built_in_model_trained_whole() -> None:
    scratch, notes = build_config(named={"model": "tiny-mistral", "full": True})
    for key, value in FROM_SCRATCH.items():
        assert scratch.to_dict()[key] == value, key
    assert any(n.startswith("from scratch") for n in notes)
    lora, notes = build_config(named={"model": "tiny-mistral"})
    assert lora == TrainConfig(model="tiny-mistral") and not any(n.startswith("from scratch") for n in notes)
    real, _ = build_config(named={"model": "./Mistral-7B-Instruct-v0.3", "full": True})
    assert real.learning_rate == 2e-4 and real.gradient_checkpointing  # a real model keeps the recipe
    told, notes = build_config(named={"model": "tiny-mistral", "full": True, "learning_rate": 1e-3})
    assert told.learning_rate == 1e-3 and not any("learning_rate 0.00" in n for n in notes)


def test_a_config_is_a_strict_model() -> None:
    with pytest.raises(Exception):
        TrainConfig(learning_rate="fast")  # type: ignore[arg-type]
    assert merge_overrides(TrainConfig(), {"learning_rate": "1e-4"}).learning_rate == 1e-4  # YAML 1.1 reads 1e-4 as a string
    assert merge_overrides(TrainConfig(), {"tokenizer": "123"}).tokenizer == "123"
    assert merge_overrides(TrainConfig(), {"max_new_tokens": "null"}).max_new_tokens is None
    with pytest.raises(UsageError, match="unknown key"):
        from fcdata.train.models import preset_config

        preset_config("tiny-mistral", {"num_layers": 4})
