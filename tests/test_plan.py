"""`fcdata plan`: the memory estimate's arithmetic, checked against the user's recipe table, real
parameter counts and PEFT's own count of LoRA weights."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.errors import InputError, UsageError
from fcdata.train.plan import GB, KNOWN_SHAPES, PlanSettings, estimate_memory, model_shape


def test_users_recipe_table_for_a_24b_model_in_4bit() -> None:
    """The recipe tabulates QLoRA on a 24B model (Mistral Small 24B): about 12 GB of weights and about
    21-22 GB in all, for LoRA r 16 at 2048 tokens, batch 1, gradient checkpointing, paged AdamW 8-bit,
    and the plain loss (logits at every position)."""
    e = estimate_memory("24b", PlanSettings(quant="nf4", lora_r=16, seq_len=2048, batch=1, logits="full"))
    c = e.components
    assert 11.0 * GB <= c["weights_linear"] <= 12.5 * GB  # "12 GB of weights": 22.2 B decoder weights in nf4
    assert 21.0 * GB <= e.peak_allocated <= 22.5 * GB  # "about 21-22 GB in all"
    assert abs(c["weights_linear"] - 12 * GB) <= 0.15 * 12 * GB and abs(e.total - 21.5 * GB) <= 0.15 * 21.5 * GB  # within 15% of the table
    assert e.total - e.peak_allocated == pytest.approx(0.5 * GB)
    # what fcdata changes: logits only at trained positions
    lean = estimate_memory("24b", PlanSettings(quant="nf4", lora_r=16, seq_len=2048, batch=1, logits="trained", trained_share=0.3))
    assert lean.components["logits_and_loss"] == pytest.approx(0.3 * c["logits_and_loss"])
    assert lean.peak_allocated < e.peak_allocated - 2 * GB


def test_models_of_every_tokenizer_version() -> None:
    """One known shape per family of models fcdata renders: v3 SentencePiece (7b, 22b) and Tekken (12b),
    v7 Tekken (24b) and SentencePiece (123b); v11/v13 models share the 24b decoder."""
    assert {k: s.vocab_size for k, s in KNOWN_SHAPES.items()} == {"7b": 32768, "12b": 131072, "22b": 32768, "24b": 131072, "123b": 32768}
    assert 122e9 < model_shape("123b").parameters < 124e9  # Mistral Large 2: 123 B
    assert 12.0e9 < model_shape("12b").parameters < 12.5e9  # Mistral NeMo: 12.2 B
    big = estimate_memory("123b", PlanSettings(quant="nf4", lora_r=16, seq_len=2048))
    assert 60 * GB < big.peak_allocated < 80 * GB


def test_parameter_counts_of_known_models() -> None:
    assert model_shape("7b").parameters == 7_248_023_552  # Mistral-7B-v0.3
    assert model_shape("24B").parameters == 23_572_403_200  # Mistral-Small-24B-Base-2501
    e = estimate_memory("7b", lora_r=32)
    assert e.details["trainable_parameters"] == 83_886_080  # r 32 on q/k/v/o/gate/up/down, 32 layers
    # nf4 with double quantisation: 4 + 8/64 + 32/(64*256) bits a weight
    assert e.components["weights_linear"] == pytest.approx(model_shape("7b").linear_parameters * (4 + 8 / 64 + 32 / 16384) / 8)
    assert e.components["weights_embeddings_norms"] == pytest.approx((2 * 32768 * 4096 + 65 * 4096) * 2)


def test_lora_count_matches_peft_on_a_real_model() -> None:
    from peft import LoraConfig, get_peft_model

    from fcdata.train.models import load_base_model

    model, info = load_base_model("tiny-mistral")
    est = estimate_memory("tiny-mistral", lora_r=8)
    assert est.model.parameters == info.parameters
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=list(PlanSettings().target_modules), task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert est.details["trainable_parameters"] == trainable


def test_components_move_the_right_way() -> None:
    base = estimate_memory("7b")
    assert estimate_memory("7b", gradient_checkpointing=False).peak_allocated > base.peak_allocated + 10 * GB
    assert base.details["activations_without_checkpointing"] > 10 * base.details["activations_with_checkpointing"]
    assert estimate_memory("7b", seq_len=8192).peak_allocated > base.peak_allocated
    assert estimate_memory("7b", batch=2).peak_allocated > base.peak_allocated
    assert estimate_memory("7b", logits="full").components["logits_and_loss"] > base.components["logits_and_loss"]
    assert estimate_memory("7b", attention="flash").peak_allocated < base.peak_allocated
    assert estimate_memory("7b", lora_dropout=0.0).peak_allocated < base.peak_allocated
    assert estimate_memory("7b", optim="adamw_torch").components["optimizer_state"] == pytest.approx(4 * base.components["optimizer_state"])
    assert estimate_memory("7b", quant="bf16").components["weights_linear"] > 3.5 * base.components["weights_linear"]
    assert estimate_memory("7b", fp32_non_quantized=True).components["weights_embeddings_norms"] == pytest.approx(2 * base.components["weights_embeddings_norms"])
    full = estimate_memory("small-mistral", quant="fp32", full=True, optim="adamw_torch")
    n = model_shape("small-mistral").parameters
    assert full.components["gradients"] == pytest.approx(4 * n) and full.components["optimizer_state"] == pytest.approx(8 * n)


def test_model_from_a_config_folder(tmp_path) -> None:
    cfg = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32768}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    shape = model_shape(str(tmp_path))
    assert shape.head_dim == 64 and shape.kv_dim == 128
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(InputError, match="config.json"):
        model_shape(str(tmp_path / "bad"))
    with pytest.raises(UsageError, match="unknown model"):
        model_shape("nonexistent-model")
    for field, value in (("num_attention_heads", 0), ("hidden_size", -8), ("vocab_size", True)):
        (tmp_path / "zero").mkdir(exist_ok=True)
        (tmp_path / "zero" / "config.json").write_text(json.dumps({**cfg, field: value}))
        with pytest.raises(InputError, match=f"{field} = "):  # was a ZeroDivisionError traceback
            model_shape(str(tmp_path / "zero"))


def test_full_training_in_bf16_has_bf16_gradients_and_adamw_moments() -> None:
    """PyTorch keeps gradients and AdamW's two moments in the weights' dtype: 2 + 4 bytes a parameter in
    bf16, 4 + 8 in fp32; an 8-bit optimizer's state is 2 bytes either way (it counted fp32 for bf16)."""
    n = model_shape("7b").parameters
    bf16 = estimate_memory("7b", full=True, quant="bf16", optim="adamw_torch").components
    fp32 = estimate_memory("7b", full=True, quant="fp32", optim="adamw_torch").components
    assert bf16["gradients"] == pytest.approx(2 * n) and bf16["optimizer_state"] == pytest.approx(4 * n)
    assert fp32["gradients"] == pytest.approx(4 * n) and fp32["optimizer_state"] == pytest.approx(8 * n)
    eight_bit = estimate_memory("7b", full=True, quant="bf16", optim="paged_adamw_8bit").components
    assert eight_bit["optimizer_state"] == pytest.approx(2 * n)


@pytest.mark.parametrize(
    "overrides",
    [{"quant": "nf3"}, {"full": True, "quant": "nf4"}, {"logits": "some"}, {"seq_len": 0}, {"trained_share": 0.0}, {"optim": "lion"}, {"target_modules": ("qkv",)}],
)
def test_bad_settings(overrides: dict) -> None:
    with pytest.raises(UsageError):
        estimate_memory("7b", **overrides)


def test_cli_table_and_json() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", "24b", "--seq-len", "2048", "--lora-r", "16", "--logits", "full"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Mistral-Small-24B" in out and "peak allocated" in out and "activations without checkpointing" in out
    assert "11.47" in out  # nf4 decoder weights, GB
    data = json.loads(runner.invoke(cli, ["plan", "7b", "--json", "--batch", "2"]).stdout)
    assert data["settings"]["batch"] == 2 and data["model"]["parameters"] == 7_248_023_552
    assert data["peak_allocated_gb"] == pytest.approx(sum(v for k, v in data["components_bytes"].items() if k != "cuda_context") / 1e9, abs=1e-3)
    full = runner.invoke(cli, ["plan", "small-mistral", "--full"])
    assert full.exit_code == 0 and "fp32 weights, full fine-tune" in full.stdout
    assert runner.invoke(cli, ["plan", "7b", "--full", "--quant", "nf4"]).exit_code == 2
    assert runner.invoke(cli, ["plan", "no-such-model"]).exit_code == 2
    assert set(KNOWN_SHAPES) <= {"7b", "12b", "22b", "24b", "123b"}
