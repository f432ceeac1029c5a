"""Fine-tune on prepared fcdata data with the Hugging Face Trainer and fcdata's collators.

    fcdata prepare data.jsonl -o prepared/                   # token ids + loss masks, a datasets folder
    python examples/train_hf_trainer.py prepared/ --model path/to/Mistral-7B-Instruct-v0.3 -o run/
    python examples/train_hf_trainer.py prepared/ --tiny --max-steps 2 -o /tmp/run      # CPU smoke run

``--batching packed`` (default) packs the samples best-fit-decreasing into rows of ``--max-length``
(:func:`fcdata.pack.pack_dataset`) and feeds them padding-free (:class:`fcdata.collate.PackingCollator`):
one flat row for flash-attention, one row per pack for sdpa/eager. ``--batching padded`` pads each batch
(:class:`fcdata.collate.PaddingCollator`). Both train exactly the same tokens with the same loss
(``tests/test_collate.py`` proves it on a tiny Mistral).

The Trainer's arguments come from :func:`fcdata.train.arguments.training_arguments`, the builder fcdata's
own trainer uses: among them ``remove_unused_columns=False`` (the Trainer would otherwise drop
``seq_lengths``, which is not an argument of ``model.forward``, and the collator could no longer see the
sample boundaries). The collator sets ``use_cache=False`` (the packed mask is built only without a cache;
the Trainer also sets it, a plain PyTorch loop might not).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def tiny_mistral(attn: str):
    """fcdata's built-in ``tiny-mistral`` (Mistral architecture, random weights, the v0.3 vocabulary)."""
    from transformers import MistralForCausalLM

    from fcdata.train.models import preset_config

    return MistralForCausalLM._from_config(preset_config("tiny-mistral"), attn_implementation=attn)


def default_attention() -> str:
    """flash-attention when a GPU and a flash-attention package are there, else PyTorch's sdpa."""
    import importlib.util

    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def build_batches(args: argparse.Namespace, attn: str) -> tuple[Any, Any, dict[str, Any]]:
    """(training dataset, collator, facts) for ``--batching``; overlong samples are dropped and counted."""
    import datasets

    from fcdata.collate import PackingCollator, PaddingCollator
    from fcdata.pack import pack_dataset

    data = datasets.load_from_disk(args.data)
    if args.batching == "packed":
        packs, report = pack_dataset(data, args.max_length, overlong="drop")
        layout = "flat" if "flash" in attn else "rows"
        packing = report.to_dict()
        packing["dropped"] = [f"{d.where()} ({d.length} tokens)" for d in report.dropped[:5]]  # the first few
        collator = PackingCollator(layout=layout, pad_to_multiple_of=args.pad_to_multiple_of)
        return packs, collator, {"packing": packing, "layout": layout}
    keep = [i for i, n in enumerate(data["length"]) if n <= args.max_length]
    facts = {"samples": len(data), "dropped_overlong": len(data) - len(keep)}
    return data.select(keep), PaddingCollator(pad_to_multiple_of=args.pad_to_multiple_of), facts


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="prepared data: a datasets folder written by `fcdata prepare`")
    parser.add_argument("--model", help="a local Hugging Face model folder or hub id")
    parser.add_argument("--tiny", action="store_true", help="a tiny random Mistral instead of --model (smoke runs)")
    parser.add_argument("-o", "--output-dir", required=True)
    parser.add_argument("--batching", choices=["packed", "padded"], default="packed")
    parser.add_argument("--max-length", type=int, default=4096, help="tokens per pack; longer samples are dropped")
    parser.add_argument("--pad-to-multiple-of", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=2, help="packs (or samples when padded) per step")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--attn", default=None, help="attention implementation (default: flash-attention on a GPU if installed, else sdpa)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.tiny and not args.model:
        parser.error("give --model PATH_OR_ID, or --tiny for a tiny random model")

    import torch
    from transformers import AutoModelForCausalLM, Trainer, set_seed

    from fcdata.train.arguments import training_arguments

    set_seed(args.seed)
    cuda = torch.cuda.is_available()
    attn = args.attn or default_attention()
    train, collator, facts = build_batches(args, attn)
    if args.tiny:
        model = tiny_mistral(attn)
    else:
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16 if cuda else torch.float32, attn_implementation=attn)

    # the TrainingArguments every run on fcdata data needs (remove_unused_columns=False keeps
    # seq_lengths for the collator, label_names, no tqdm/reporting): fcdata's one builder
    training_args = training_arguments(
        args.output_dir,
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        max_steps=args.max_steps,
        epochs=args.epochs,
        learning_rate=args.lr,
        bf16=cuda,
        use_cpu=not cuda,
        seed=args.seed,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=train, data_collator=collator)
    start = time.perf_counter()
    result = trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    summary = {
        "batching": args.batching,
        "attention": attn,
        "steps": result.global_step,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "seconds": round(time.perf_counter() - start, 3),
        **facts,
    }
    return summary


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    sys.stdout.write("\n")
