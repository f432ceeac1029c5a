"""Entry point of the ``fcdata`` command: a click group whose subcommands load on first use.

Loading lazily keeps ``fcdata --help`` and the data commands fast: the training commands import torch,
transformers and TRL only when they run.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from fcdata import __version__
from fcdata.errors import FcdataError

from .common import CONTEXT_SETTINGS, FcdataClickError

# command name -> (module under fcdata.cli, attribute); order is the order shown in --help
COMMANDS: dict[str, tuple[str, str]] = {
    "convert": ("convert", "convert"),
    "validate": ("validate", "validate"),
    "schema": ("schema", "schema"),
    "prepare": ("prepare", "prepare"),
    "inspect": ("inspect", "inspect_cmd"),
    "stats": ("stats", "stats"),
    "score": ("score", "score"),
    "bfcl-prompts": ("bfcl", "bfcl_prompts"),
    "synth": ("synth", "synth"),
    "plan": ("plan", "plan"),
    "train": ("train", "train"),
    "eval": ("train", "eval_cmd"),
    "train-eval": ("train", "train_eval"),
}


# what `pip install 'fcdata[train]'` adds; a command that needs one of them says so instead of a traceback
TRAIN_EXTRA_MODULES = frozenset({"torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "matplotlib"})


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is listed or run, and turns every
    :class:`~fcdata.errors.FcdataError` into a one-line message with exit code 2 instead of a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _) in COMMANDS.items() if importlib.util.find_spec(f"{__package__}.{mod}") is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        mod, attr = COMMANDS[cmd_name]
        module = importlib.import_module(f"{__package__}.{mod}")
        command: click.Command = getattr(module, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FcdataError as exc:
            raise FcdataClickError(str(exc)) from exc
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in TRAIN_EXTRA_MODULES:
                raise FcdataClickError(
                    f"`fcdata {ctx.invoked_subcommand}` needs the training stack ({exc.name} is not installed): "
                    "pip install 'fcdata[train]'"
                ) from exc
            raise
        except BrokenPipeError:
            # the reader of our stdout went away (`fcdata ... | head`): no traceback, but not success
            # either (exit 0 would let `fcdata validate bad.jsonl | head` pass a CI step with errors);
            # 2, an output error, like any write that failed
            sys.stderr.close()
            ctx.exit(2)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="fcdata")
def cli() -> None:
    """Tool-calling fine-tuning data for Mistral v0.3.

    \b
    read -> convert -> validate -> render (exact token ids and loss masks)
         -> collate/pack -> train -> generate -> score

    \b
    Examples:
      fcdata convert glaive.jsonl -o data.jsonl --report report.json
      fcdata validate data.jsonl
      fcdata prepare data.jsonl -o prepared/
      fcdata train-eval examples/synth_sample.jsonl -o run/ --model tiny-mistral

    
    Exit codes: 0 ok; 1 findings: the run finished but the data failed its checks (each command's --help
    says which findings count; --strict makes rejections and warnings count); 2 usage or I/O error: the
    run did not finish.
    """


if __name__ == "__main__":  # pragma: no cover
    cli()
