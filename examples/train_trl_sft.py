"""Fine-tune on prepared fcdata data with TRL's SFTTrainer (optionally LoRA) and fcdata's collators.

    fcdata prepare data.jsonl -o prepared/                   # token ids + loss masks, a datasets folder
    python examples/train_trl_sft.py prepared/ --model path/to/Mistral-7B-Instruct-v0.3 --lora -o run/
    python examples/train_trl_sft.py prepared/ --tiny --lora --max-steps 2 -o /tmp/run   # CPU smoke run

The data is already tokenized with exact loss masks, so TRL's own preparation is skipped
(``dataset_kwargs={"skip_prepare_dataset": True}``): no chat template, no re-tokenization, no
truncation. ``--batching packed`` (default) packs with :func:`fcdata.pack.pack_dataset` (TRL's
best-fit decreasing, but never cutting a sample) and collates with :class:`fcdata.collate.PackingCollator`;
``--batching padded`` uses :class:`fcdata.collate.PaddingCollator`.

Why not ``SFTConfig(packing=True)``? It works on fcdata's prepared data too (the ``labels`` column is used
as it is), but TRL truncates samples longer than ``max_length`` without a word, cutting the assistant turn
at their end, and it refuses a custom collator in padding-free mode. SFTTrainer needs a tokenizer object
even when it tokenizes nothing: with ``--tiny`` it is the Mistral v0.3 tokenizer shipped in mistral-common
(``transformers.MistralCommonBackend``), otherwise the model's own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from train_hf_trainer import build_batches, default_attention, tiny_mistral  # noqa: E402


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
    parser.add_argument("--lora", action="store_true", help="train a LoRA adapter (r 32, alpha 64) instead of all weights")
    parser.add_argument("--attn", default=None, help="attention implementation (default: flash-attention on a GPU if installed, else sdpa)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.tiny and not args.model:
        parser.error("give --model PATH_OR_ID, or --tiny for a tiny random model")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    from fcdata.train.arguments import training_arguments

    set_seed(args.seed)
    cuda = torch.cuda.is_available()
    attn = args.attn or default_attention()
    train, collator, facts = build_batches(args, attn)
    if args.tiny:
        from transformers import MistralCommonBackend

        from fcdata.tokenizer import default_tokenizer_path

        model = tiny_mistral(attn)
        tokenizer = MistralCommonBackend(default_tokenizer_path())
    else:
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16 if cuda else torch.float32, attn_implementation=attn)
        tokenizer = AutoTokenizer.from_pretrained(args.model)
    peft_config = None
    if args.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=32,
            lora_alpha=64,
            lora_dropout=0.05,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            task_type="CAUSAL_LM",
        )

    # fcdata's one TrainingArguments builder, building TRL's SFTConfig (a TrainingArguments subclass)
    config = training_arguments(
        args.output_dir,
        arguments_class=SFTConfig,
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        max_steps=args.max_steps,
        epochs=args.epochs,
        learning_rate=args.lr,
        bf16=cuda,
        use_cpu=not cuda,
        seed=args.seed,
        dataset_kwargs={"skip_prepare_dataset": True},  # already tokenized, with exact masks
        max_length=None,  # nothing to truncate: packs already fit
    )
    trainer = SFTTrainer(
        model=model, args=config, train_dataset=train, data_collator=collator, processing_class=tokenizer, peft_config=peft_config
    )
    start = time.perf_counter()
    result = trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    return {
        "batching": args.batching,
        "attention": attn,
        "lora": args.lora,
        "steps": result.global_step,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "seconds": round(time.perf_counter() - start, 3),
        **facts,
    }


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    sys.stdout.write("\n")
