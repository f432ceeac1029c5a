"""The trainer is right by construction: its loss is the mean cross-entropy over exactly the prepared
trained tokens (compared with a loss computed by hand), logits are computed only at trained positions,
gradient checkpointing really recomputes, and a run saves and resumes."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import torch

from fcdata.render import render_records
from fcdata.synth import synth_records
from fcdata.train.config import TrainConfig, merge_overrides, resolve
from fcdata.train.models import load_base_model
from fcdata.train.trainer import FcdataTrainer, token_loss, train_model


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # tiny models on a shared 2-core machine: one intra-op thread avoids OpenMP contention
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def prepared(records: list[dict]) -> Any:
    """Prepared rows (the columns `fcdata prepare` writes) for a handful of records."""
    import datasets

    rows = []
    for rendered in render_records(records):
        for s in rendered.samples:
            rows.append({"input_ids": s.input_ids, "assistant_masks": s.assistant_masks, "labels": s.labels, "length": s.length, "num_trained": s.num_trained})
    return datasets.Dataset.from_list(rows)


@pytest.fixture(scope="module")
def four_samples() -> Any:
    # different lengths and trained counts: a mean per sample would differ from the mean per token
    recs = list(synth_records(n_train=12, n_test=0, seed=5))
    ds = prepared(recs)
    picked = sorted(range(len(ds)), key=lambda i: ds[i]["length"])[:: max(1, len(ds) // 4)][:4]
    return ds.select(picked)


def _cfg(**overrides: Any) -> TrainConfig:
    base = {"max_steps": 1, "batch_size": 2, "gradient_accumulation_steps": 2, "max_length": 512, "logging_steps": 1, "save_steps": 1000, "lora.dropout": 0.0, "learning_rate": 1e-3, "warmup_ratio": 0.0}
    return merge_overrides(TrainConfig(), {**base, **overrides})


def hand_loss(ds: Any) -> float:
    """Mean over every trained target of -log p(token | prefix), each sample run alone, full logits."""
    model, _ = load_base_model("tiny-mistral")
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for row in ds:
            ids = torch.tensor([row["input_ids"]])
            mask = torch.tensor(row["assistant_masks"])
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
            for t in range(ids.shape[1] - 1):
                if mask[t + 1] == 1:
                    total -= float(logp[t, ids[0, t + 1]])
                    count += 1
    return total / count


@pytest.mark.parametrize("packing, full", [(True, False), (False, False), (True, True)])
def test_first_logged_loss_equals_the_hand_computed_loss(tmp_path, four_samples, packing: bool, full: bool) -> None:
    expected = hand_loss(four_samples)
    result = train_model(four_samples, str(tmp_path / "run"), _cfg(packing=packing, full=full))
    first = result.log_history[0]
    assert first["step"] == 1
    assert first["loss"] == pytest.approx(expected, rel=1e-4)
    assert result.metrics["trained_tokens"] == sum(four_samples["num_trained"])
    assert result.metrics["tokens"] == sum(four_samples["length"])


def test_logits_only_at_trained_positions(four_samples) -> None:
    from fcdata.collate import PackingCollator

    model, _ = load_base_model("tiny-mistral")
    seen: list[tuple[int, ...]] = []
    hook = model.lm_head.register_forward_hook(lambda mod, args, out: seen.append(tuple(out.shape)))
    batch = PackingCollator(layout="flat", return_flash_kwargs=False)(list(four_samples))
    loss_sum, n = token_loss(model, batch)
    hook.remove()
    trained = sum(four_samples["num_trained"])
    assert n == trained
    assert seen == [(trained, 32768)]  # not (1, tokens, 32768)
    assert batch["input_ids"].shape[1] == sum(four_samples["length"]) > 3 * trained
    loss_sum.backward()
    assert model.lm_head.weight.grad is not None


def test_older_transformers_path_gives_the_same_loss(four_samples, monkeypatch) -> None:
    """transformers < 5 takes positions shared by all rows as logits_to_keep; fcdata then keeps the union
    and selects per row: same targets, same loss as the boolean-mask path, on a padded batch of 4 rows."""
    from fcdata.collate import PaddingCollator
    from fcdata.train import loss

    model, _ = load_base_model("tiny-mistral")
    batch = PaddingCollator()(list(four_samples))
    exact, n = token_loss(model, batch)
    monkeypatch.setattr(loss, "_BOOL_KEEP", False)
    union, m = token_loss(model, batch)
    assert n == m == sum(four_samples["num_trained"])
    assert float(union) == pytest.approx(float(exact), rel=1e-5)


def test_gradient_checkpointing_recomputes_each_layer(tmp_path, four_samples) -> None:
    counts: dict[str, int] = {}

    def run(checkpointing: bool) -> int:
        cfg = _cfg(gradient_checkpointing=checkpointing, gradient_accumulation_steps=1, batch_size=8)
        calls = {"mlp": 0, "train_mode": 0}

        from transformers.models.mistral import modeling_mistral

        real_forward = modeling_mistral.MistralMLP.forward

        def counting(self: Any, x: Any) -> Any:
            calls["mlp"] += 1
            calls["train_mode"] += int(self.training)
            return real_forward(self, x)

        modeling_mistral.MistralMLP.forward = counting
        try:
            train_model(four_samples, str(tmp_path / f"gc{checkpointing}"), cfg)
        finally:
            modeling_mistral.MistralMLP.forward = real_forward
        assert calls["train_mode"] == calls["mlp"]
        return calls["mlp"]

    counts["on"] = run(True)
    counts["off"] = run(False)
    layers = 2  # tiny-mistral; one micro-step (all packs in one batch)
    assert counts["off"] == layers
    assert counts["on"] == 2 * layers  # forward + recompute in backward


def test_run_folder_and_resume(tmp_path, four_samples) -> None:
    run = tmp_path / "run"
    cfg = _cfg(max_steps=2, save_steps=1, gradient_accumulation_steps=1, batch_size=1, packing=False)
    first = train_model(four_samples, str(run), cfg)
    for name in ("adapter/adapter_config.json", "base_model/config.json", "config.yaml", "tokenizer.json", "metrics.json", "loss_curve.png", "log_history.json"):
        assert (run / name).exists(), name
    assert (run / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["loss"]["first"] == first.log_history[0]["loss"]
    assert metrics["optim"] == "adamw_torch_fused" and any("paged_adamw_8bit" in n for n in metrics["notes"])
    tok = json.loads((run / "tokenizer.json").read_text())
    assert tok["version"] == "v3" and tok["vocab_size"] == 32768 and len(tok["sha256"]) == 64
    import yaml

    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["lora"]["r"] == 32 and saved["optim"] == "adamw_torch_fused" and saved["model"] == "tiny-mistral"
    assert sorted(os.listdir(run / "checkpoints")) == ["checkpoint-1", "checkpoint-2", "settings.yaml"]

    resumed = train_model(four_samples, str(run), merge_overrides(cfg, {"max_steps": 3}))
    assert resumed.metrics["resumed_from"] == os.path.join("checkpoints", "checkpoint-2")
    assert resumed.metrics["steps"] == 3 and resumed.metrics["steps_this_run"] == 1 and not resumed.metrics["already_finished"]
    assert [e["step"] for e in resumed.log_history if "loss" in e] == [1, 2, 3]

    # the same command again: nothing left to train, and it says so instead of a rate of 0 tokens/s;
    # the run's figures stay those of the training it did (they were overwritten with this call's zeros)
    before = json.loads((run / "metrics.json").read_text())
    again = train_model(four_samples, str(run), merge_overrides(cfg, {"max_steps": 3}))
    assert again.metrics["already_finished"] is True and again.metrics["steps_this_run"] == 0
    assert any("nothing to train" in n for n in again.notes)
    kept = json.loads((run / "metrics.json").read_text())
    assert kept["tokens"] == before["tokens"] > 0 and kept["tokens_per_second"] == before["tokens_per_second"]

    from fcdata.errors import UsageError

    with pytest.raises(UsageError, match="other settings"):
        train_model(four_samples, str(run), merge_overrides(cfg, {"max_steps": 4, "learning_rate": 5e-3}))
    with pytest.raises(UsageError, match="other data"):  # the finished run was trained on four_samples
        train_model(four_samples.select([0, 1]), str(run), merge_overrides(cfg, {"max_steps": 3}))
    fresh = train_model(four_samples, str(run), merge_overrides(cfg, {"resume": False, "max_steps": 1}))
    assert fresh.metrics["resumed_from"] is None and fresh.metrics["steps"] == 1

    # a full run over the LoRA run: the adapter and its base go, `fcdata eval RUN` cannot load them
    train_model(four_samples, str(run), merge_overrides(cfg, {"resume": False, "max_steps": 1, "full": True}))
    assert (run / "model").is_dir() and not (run / "adapter").exists() and not (run / "base_model").exists()
    train_model(four_samples, str(run), merge_overrides(cfg, {"resume": False, "max_steps": 1}))
    assert (run / "adapter").is_dir() and not (run / "model").exists()


def test_an_interrupted_run_resumes_only_with_its_own_settings_and_data(tmp_path, four_samples) -> None:
    """A run cut off before its config.yaml resumed with any settings and any data: other steps on other
    data, config.yaml claiming a learning rate never used, and a traceback for another LoRA rank."""
    from fcdata.errors import UsageError

    run = tmp_path / "run"
    cfg = _cfg(max_steps=2, save_steps=1, gradient_accumulation_steps=1, batch_size=1, packing=False)
    train_model(four_samples, str(run), cfg)
    (run / "config.yaml").unlink()  # as a run killed after its checkpoints leaves it
    for change, data, what in (({"learning_rate": 5e-3}, four_samples, "other settings"), ({"lora": {"r": 8}}, four_samples, "other settings"), ({}, four_samples.select([0, 1, 2]), "other data")):
        with pytest.raises(UsageError, match=what):
            train_model(data, str(run), merge_overrides(cfg, {"max_steps": 3, **change}))
    resumed = train_model(four_samples, str(run), merge_overrides(cfg, {"max_steps": 3}))
    assert resumed.metrics["resumed_from"] == os.path.join("checkpoints", "checkpoint-2")


def test_bf16_autocast_runs_attention_in_bf16_with_sdpa(tmp_path, four_samples) -> None:
    """On a GPU bf16 is the default; here it is forced on the CPU to check the mechanism: the attention
    kernel is PyTorch's sdpa and receives bf16 queries, keys and values."""
    import torch.nn.functional as F

    dtypes: list[torch.dtype] = []
    real = F.scaled_dot_product_attention

    def spy(q: Any, k: Any, v: Any, *args: Any, **kwargs: Any) -> Any:
        dtypes.extend([q.dtype, k.dtype, v.dtype])
        return real(q, k, v, *args, **kwargs)

    F.scaled_dot_product_attention = spy
    try:
        cfg = _cfg(bf16=True)
        result = train_model(four_samples, str(tmp_path / "bf16"), cfg)
    finally:
        F.scaled_dot_product_attention = real
    assert result.metrics["attn_implementation"] == "sdpa" and result.metrics["bf16"] is True
    assert dtypes and set(dtypes) == {torch.bfloat16}


def test_trainer_refuses_empty_data(tmp_path) -> None:
    import datasets

    from fcdata.errors import NoRecordsError, UsageError

    empty = datasets.Dataset.from_dict({"input_ids": [], "assistant_masks": []})
    with pytest.raises(NoRecordsError, match="empty"):  # exit code 1, a finding
        train_model(empty, str(tmp_path / "x"), _cfg())
    too_long = prepared(list(synth_records(n_train=2, n_test=0)))
    with pytest.raises(UsageError, match="fits max_length"):
        train_model(too_long, str(tmp_path / "y"), _cfg(max_length=16, packing=False))


def test_trainer_class_is_a_transformers_trainer() -> None:
    from transformers import Trainer, TrainingArguments

    model, _ = load_base_model("tiny-mistral")
    trainer = FcdataTrainer(model=model, args=TrainingArguments(output_dir="/tmp/unused-fcdata", use_cpu=True, report_to="none"))
    assert isinstance(trainer, Trainer) and trainer.loss_is_scaled_for_ga is True
    assert resolve(TrainConfig(), device="cpu").device == "cpu"


def test_cli_trains_on_raw_data(tmp_path) -> None:
    """`fcdata train` on raw records (Glaive content in ShareGPT shape): converted, validated and prepared
    on the fly, a few steps, the summary on stdout."""
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", os.path.join(root, "examples", "sharegpt_sample.jsonl"), "-o", str(run), "--max-steps", "2", "--max-length", "2048", "--batch-size", "1", "--grad-accum", "1", "--set", "pack_length=2048"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "loss first -> last" in result.stdout and "tokens/s" in result.stdout
    assert "prepared 300 records" in result.stderr and "note: optim: paged_adamw_8bit" in result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["data"]["pack_length"] == 2048 and metrics["data"]["rows_per_step"] == 1
    assert (run / "prepared" / "dataset_info.json").exists() and (run / "prepare_rejects.jsonl").exists()
    # the prepared folder itself is DATA too (what `fcdata prepare` writes)
    again = CliRunner().invoke(cli, ["train", str(run / "prepared"), "-o", str(tmp_path / "run2"), "--max-steps", "1", "--max-length", "2048", "--batch-size", "1", "-q"])
    assert again.exit_code == 0, again.output + repr(again.exception)
    assert json.loads((tmp_path / "run2" / "metrics.json").read_text())["steps"] == 1 and again.stderr == ""


_DDP_SCRIPT = """
import json, os, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_train import _cfg, hand_loss, prepared
from fcdata.synth import synth_records
from fcdata.train.trainer import train_model
ds = prepared(list(synth_records(n_train=12, n_test=0, seed=5)))
ds = ds.select(sorted(range(len(ds)), key=lambda i: ds[i]["length"])[:: max(1, len(ds) // 4)][:4])
res = train_model(ds, {run!r}, _cfg(packing=False, batch_size=1, gradient_accumulation_steps=2))
if os.environ.get("RANK") == "0":
    print("RESULT " + json.dumps({{"world": res.metrics["world_size"], "logged": res.log_history[0]["loss"], "hand": hand_loss(ds),
                                  "trained": res.metrics["trained_tokens"], "expected_trained": sum(ds["num_trained"])}}))
"""


@pytest.mark.slow
def test_ddp_two_processes_train_the_same_loss(tmp_path) -> None:
    """Under torchrun (what `accelerate launch` runs) with 2 CPU processes (gloo), unchanged code: one
    optimizer step over 4 samples (2 processes x batch 1 x 2 accumulation steps) logs exactly the
    hand-computed mean over all their trained tokens, and the token counts are summed over processes."""
    import subprocess
    import sys

    script = tmp_path / "ddp.py"
    script.write_text(_DDP_SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)), run=str(tmp_path / "run")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["world"] == 2
    assert result["logged"] == pytest.approx(result["hand"], rel=1e-4)
    assert result["trained"] == result["expected_trained"]


@pytest.mark.gpu
def test_qlora_loads_4bit_and_trains_on_gpu(tmp_path, four_samples) -> None:
    """4-bit base, bf16, paged AdamW 8-bit; one step trains the adapters only: every LoRA B (zero at the
    start) has moved, every 4-bit weight is byte for byte what a fresh load of the same base holds, the
    loss is finite and the trained-token count is exactly the prepared one."""
    result = train_model(four_samples, str(tmp_path / "q"), _cfg(qlora=True))  # one step over all four samples
    assert result.model_info.quantized and result.metrics["bf16"] is True
    assert result.metrics["peak_memory_kind"].startswith("cuda") and result.metrics["peak_memory_bytes"] > 0
    assert result.metrics["optim"] == "paged_adamw_8bit"
    assert result.metrics["trained_tokens"] == sum(four_samples["num_trained"])
    assert result.metrics["tokens"] == sum(four_samples["length"])
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in result.log_history if "loss" in e)
    import bitsandbytes as bnb

    base = result.model.get_base_model()
    quantized = {n: m for n, m in base.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    assert quantized
    lora_b = {n: p for n, p in result.model.named_parameters() if "lora_B" in n}
    assert lora_b and all(float(p.detach().abs().max()) > 0 for p in lora_b.values()), "a LoRA B did not move"
    fresh, _ = load_base_model("tiny-mistral", qlora=True, dtype="bfloat16", device="cuda")
    fresh_q = {n: m for n, m in fresh.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    assert len(fresh_q) == len(quantized)
    for name, module in quantized.items():
        plain = name.replace("base_layer", "").replace("..", ".").rstrip(".")
        twin = fresh_q.get(name) or fresh_q.get(plain)
        assert twin is not None, name
        assert torch.equal(module.weight.data, twin.weight.data), f"{name}: the frozen 4-bit weight changed"


@pytest.mark.gpu
def test_gpu_defaults_train_in_bf16_on_memory_efficient_attention(tmp_path, four_samples) -> None:
    """On a GPU the defaults resolve to bf16, paged AdamW 8-bit, and flash-attention (when installed) or
    sdpa; attention then receives bf16 tensors and the peak memory is the CUDA allocator's."""
    import torch.nn.functional as F

    r = resolve(TrainConfig())
    assert r.device == "cuda" and r.bf16 is True and r.optim == "paged_adamw_8bit"
    assert r.attn_implementation in ("flash_attention_2", "sdpa")
    dtypes: list[torch.dtype] = []
    real = F.scaled_dot_product_attention

    def spy(q: Any, k: Any, v: Any, *args: Any, **kwargs: Any) -> Any:
        dtypes.append(q.dtype)
        return real(q, k, v, *args, **kwargs)

    F.scaled_dot_product_attention = spy
    try:
        result = train_model(four_samples, str(tmp_path / "gpu"), _cfg(max_steps=2), resolved=r)
    finally:
        F.scaled_dot_product_attention = real
    assert result.metrics["peak_memory_kind"].startswith("cuda") and result.metrics["peak_memory_bytes"] > 0
    assert result.metrics["trained_tokens"] == 2 * sum(four_samples["num_trained"])  # two steps, each over all four
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in result.log_history if "loss" in e)
    if r.attn_implementation == "sdpa":
        assert dtypes and set(dtypes) == {torch.bfloat16}


def test_warm_up_longer_than_the_run_is_scaled_and_said(tmp_path, four_samples) -> None:
    """A one-step run with the recipe's 3% warm-up: the Trainer would make that step at learning rate 0
    (ceil(0.03 x 1) = 1 warm-up step); fcdata drops the warm-up, trains at the full rate, and notes it."""
    from fcdata.train.loss import warmup_steps

    assert warmup_steps(0.03, 1)[0] == 0 and "less than one step" in (warmup_steps(0.03, 1)[1] or "")
    assert warmup_steps(0.03, 1000) == (30, None) and warmup_steps(0.0, 5) == (0, None)
    result = train_model(four_samples, str(tmp_path / "w"), _cfg(warmup_ratio=0.03))
    assert result.metrics["steps"] == 1 and result.metrics["warmup_steps"] == 0
    assert result.log_history[0]["learning_rate"] == pytest.approx(1e-3)
    assert any(n.startswith("warm-up:") for n in result.notes)


def test_loss_curve_marks_held_out_loss_with_integer_steps(tmp_path, monkeypatch) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from fcdata.train.artifacts import plot_loss_curve

    figures: list[Any] = []
    savefig = Figure.savefig

    def keep(self: Any, *args: Any, **kwargs: Any) -> Any:
        figures.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    history = [{"step": s, "loss": 3.0 / s} for s in (1, 2, 3)]
    target = tmp_path / "c.png"
    assert plot_loss_curve(history, str(target), heldout_before=10.4, heldout_after=0.5)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = figures[0].axes[0]
    locator = ax.xaxis.get_major_locator()
    assert isinstance(locator, MaxNLocator) and locator._integer
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("before training: 10.4" in t for t in labels) and any("after training: 0.5" in t for t in labels)
    assert not plot_loss_curve([], str(tmp_path / "e.png"))
