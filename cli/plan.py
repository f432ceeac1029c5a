"""``fcdata plan``: how much GPU memory a fine-tuning run will need, component by component."""

from __future__ import annotations

import json

import click

from fcdata.train.plan import PlanSettings, component_label, estimate_memory, model_shape

from .common import CONTEXT_SETTINGS, format_table


def _gb(value: float) -> str:
    return f"{value / 1e9:.2f}"


def _gib(value: float) -> str:
    return f"{value / 2**30:.2f}"


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("model", default="7b")
@click.option("--quant", type=click.Choice(["nf4", "nf4-single", "int8", "bf16", "fp32"]), default=None, help="Weights of the decoder's linear layers (nf4 = QLoRA, double quantisation; nf4-single without). Default: nf4, or fp32 master weights with --full.")
@click.option("--full", is_flag=True, help="Train every weight (needs --quant bf16 or fp32) instead of LoRA.")
@click.option("--lora-r", default=32, show_default=True, type=click.IntRange(min=1), help="LoRA rank.")
@click.option("--lora-dropout", default=0.05, show_default=True, type=click.FloatRange(0, 1, max_open=True), help="LoRA dropout (a dropout keeps a copy of each adapted layer's input).")
@click.option("--seq-len", default=4096, show_default=True, type=click.IntRange(min=1), help="Tokens per row (the pack length when packing).")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1), help="Rows per micro-step on one GPU.")
@click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=True, show_default=True, help="Recompute each layer in backward instead of keeping its activations.")
@click.option("--optim", default="paged_adamw_8bit", show_default=True, type=click.Choice(["paged_adamw_8bit", "adamw_8bit", "adamw_torch", "adamw_torch_fused", "sgd", "adafactor"]), help="Optimizer (sets the bytes of state per trained weight).")
@click.option("--logits", type=click.Choice(["trained", "full"]), default="trained", show_default=True, help="trained: logits only where a token is trained (fcdata); full: at every position (plain Trainer/TRL loss).")
@click.option("--trained-share", default=0.3, show_default=True, type=click.FloatRange(0, 1, min_open=True), help="Share of tokens that are trained (see `fcdata stats`).")
@click.option("--attention", type=click.Choice(["sdpa", "flash"]), default="sdpa", show_default=True, help="sdpa builds a dense mask per row; flash-attention varlen needs none.")
@click.option("--fp32-non-quantized", is_flag=True, help="Embeddings, lm_head and norms in fp32 (what PEFT's prepare_model_for_kbit_training does).")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def plan(model: str, quant: str | None, full: bool, lora_r: int, lora_dropout: float, seq_len: int, batch: int, gradient_checkpointing: bool, optim: str, logits: str, trained_share: float, attention: str, fp32_non_quantized: bool, as_json: bool) -> None:
    """Estimate the peak GPU memory of training MODEL: weights, trainable state (LoRA weights, gradients,
    optimizer), activations with and without gradient checkpointing, logits, buffers.

    MODEL is a known size (7b, 12b, 22b, 24b, 123b: the models of tokenizer versions v3 to v13), a built-in model (tiny-mistral, small-mistral,
    mistral-7b-random) or a folder with a Hugging Face config.json. "peak allocated" is what
    torch.cuda.max_memory_allocated shows; "total" adds the CUDA context (closer to nvidia-smi).

    \b
    Examples:
      fcdata plan 7b
      fcdata plan 24b --seq-len 2048 --lora-r 16 --logits full
      fcdata plan 7b --batch 2 --no-gradient-checkpointing --json
      fcdata plan ./Mistral-7B-Instruct-v0.3 --quant bf16
    """
    if quant is None:
        quant = "fp32" if full else "nf4"
    settings = PlanSettings(
        quant=quant,
        full=full,
        lora_r=lora_r,
        lora_dropout=lora_dropout,
        seq_len=seq_len,
        batch=batch,
        gradient_checkpointing=gradient_checkpointing,
        optim=optim,
        logits=logits,
        trained_share=trained_share,
        attention=attention,
        fp32_non_quantized=fp32_non_quantized,
    )
    estimate = estimate_memory(model_shape(model), settings)
    if as_json:
        click.echo(json.dumps(estimate.to_dict(), ensure_ascii=False, indent=2))
        return
    shape = estimate.model
    d = estimate.details
    mode = "full fine-tune" if full else f"LoRA r={lora_r}"
    click.echo(
        f"{shape.name}: {shape.parameters / 1e9:.2f} B parameters ({d['trainable_parameters'] / 1e6:.1f} M trained), "
        f"{quant} weights, {mode}, {batch} x {seq_len} tokens, "
        f"checkpointing {'on' if gradient_checkpointing else 'off'}, logits at {logits} positions"
    )
    rows = [(component_label(k), _gb(v), _gib(v)) for k, v in estimate.components.items()]
    rows.append(("peak allocated (torch.cuda.max_memory_allocated)", _gb(estimate.peak_allocated), _gib(estimate.peak_allocated)))
    rows.append(("total with CUDA context", _gb(estimate.total), _gib(estimate.total)))
    click.echo(format_table(["component", "GB", "GiB"], rows, align="lrr"))
    click.echo("")
    alt = [
        ("activations with checkpointing", _gb(d["activations_with_checkpointing"]), _gib(d["activations_with_checkpointing"])),
        ("activations without checkpointing", _gb(d["activations_without_checkpointing"]), _gib(d["activations_without_checkpointing"])),
        ("logits at trained positions only", _gb(d["logits_trained_positions_only"]), _gib(d["logits_trained_positions_only"])),
        ("logits at every position", _gb(d["logits_full_vocab_all_positions"]), _gib(d["logits_full_vocab_all_positions"])),
    ]
    click.echo(format_table(["for comparison", "GB", "GiB"], alt, align="lrr"))
