"""Entry point of the ``fcdata`` command: a click group whose subcommands load on first use.

Loading lazily keeps ``fcdata --help`` and the data commands fast: the training commands import torch,
transformers and TRL only when they run.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import signal
import sys
import threading
from typing import Any, Iterator

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
        with _process_guard():
            try:
                try:
                    result = super().invoke(ctx)
                except (SystemExit, click.exceptions.Exit):
                    _flush_stdout()  # a command ending with findings (exit 1) has output to deliver too
                    raise
                _flush_stdout()
                return result
            except BrokenPipeError:
                # the reader of our stdout went away (`fcdata ... | head`) before everything was
                # written: no traceback, but not success either (exit 0 would let `fcdata validate
                # bad.jsonl | head` pass a CI step with errors); 2, an output error, like any write that
                # failed. Output that was written whole before the reader left is no loss: exit 0.
                _discard_stdout()
                ctx.exit(2)
            except KeyboardInterrupt:
                # 130 (128 + SIGINT), as shells report it; never 1, which means "findings"
                click.echo("Interrupted (files being written were removed).", err=True)
                ctx.exit(130)
            except FcdataError as exc:
                error = FcdataClickError(str(exc))
                error.exit_code = exc.exit_code  # 2, or 1 for an input with nothing in it (NoRecordsError)
                raise error from exc
            except ModuleNotFoundError as exc:
                if (exc.name or "").split(".")[0] in TRAIN_EXTRA_MODULES:
                    raise FcdataClickError(
                        f"`fcdata {ctx.invoked_subcommand}` needs the training stack ({exc.name} is not installed): "
                        "pip install 'fcdata[train]'"
                    ) from exc
                raise
            except OSError as exc:
                # e.g. standard output on a full disk: one line, exit 2, never a traceback
                try:
                    _flush_stdout()
                except OSError:
                    _discard_stdout()
                where = f"{exc.filename}: " if exc.filename else ("standard output: " if exc.errno is not None else "")
                raise FcdataClickError(f"{where}{exc.strerror or exc}") from exc


@contextlib.contextmanager
def _process_guard() -> Iterator[None]:
    """What a run of a command needs from the process, set up for its duration and restored after.

    - SIGTERM and SIGHUP end the run like an exception (exit 128 + signal), so every temporary file
      is removed on the way out and worker processes are shut down, instead of the default death that
      leaves ``.NAME.*.tmp`` files and orphaned workers behind.
    - Each of those signals, and Ctrl-C, also starts a watchdog (:func:`_arm_stop_watchdog`): a run that
      has not ended :data:`STOP_GRACE_S` seconds later exits there and then, with the same code.
    - Standard output is buffered even under ``python -u`` / ``PYTHONUNBUFFERED=1``: unbuffered, a write
      to a pipe whose reader leaves returns short and the text layer drops the rest without an error.
      Buffered, every byte is either written or reported as lost (``BrokenPipeError``, exit 2).

    Only in the main thread of a real process (``CliRunner`` in tests brings its own streams).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # (not a job started with Ctrl-C ignored)
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupt)
    stdout = sys.stdout
    raw = getattr(stdout, "buffer", None)
    if isinstance(raw, io.FileIO):
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=stdout.encoding, errors=stdout.errors, line_buffering=stdout.isatty())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if sys.stdout is not stdout:
            wrapper, sys.stdout = sys.stdout, stdout
            try:
                wrapper.flush()
            except (OSError, ValueError):
                _discard_stdout(wrapper)  # already reported; what is left cannot be delivered
            with contextlib.suppress(OSError, ValueError):
                wrapper.detach()  # never close fd 1 with the wrapper


# seconds a run has, after Ctrl-C, SIGTERM or SIGHUP, to remove its temporaries and end
STOP_GRACE_S = 30.0
_watchdog_armed = False


def _arm_stop_watchdog(code: int) -> None:
    """End the process with ``code`` if it is still running :data:`STOP_GRACE_S` seconds from now.

    Why: a signal's exception is raised at whatever Python function the main thread enters next, and
    Python-level lock code (``threading.Condition``, ``queue.Queue``, ``concurrent.futures``) interrupted
    there can be left holding a lock that the clean-up, or the interpreter's exit (which joins the pool's
    manager thread), then waits on for ever. That hung ``fcdata convert`` on Ctrl-C in CI; the writer
    it hung in no longer uses such locks (:class:`fcdata.write.BackgroundWriter`), and this bounds
    what is left: the user asked the run to stop, and it stops. Started with ``_thread`` (C code, no
    Python lock: the signal may have landed inside :mod:`threading`). Temporaries a run cut off this
    way leaves behind are named after its process and removed by the next run (``sweep_stale``)."""
    global _watchdog_armed
    if _watchdog_armed:
        return
    _watchdog_armed = True
    import _thread
    import time

    def watchdog() -> None:
        time.sleep(STOP_GRACE_S)
        with contextlib.suppress(OSError):
            os.write(2, f"fcdata: still running {STOP_GRACE_S:g} s after it was asked to stop; exiting now (the next run removes what it left behind)\n".encode())
        os._exit(code)

    _thread.start_new_thread(watchdog, ())


def _terminate(signum: int, _frame: Any) -> None:
    _arm_stop_watchdog(128 + signum)
    raise SystemExit(128 + signum)


def _interrupt(signum: int, _frame: Any) -> None:
    _arm_stop_watchdog(128 + signum)
    raise KeyboardInterrupt


def _flush_stdout() -> None:
    """Deliver what is still buffered for standard output, inside the run, so that a closed pipe is
    reported (exit 2) rather than failing in the interpreter's own flush at exit (exit 120)."""
    with contextlib.suppress(ValueError):  # a closed stream (tests)
        sys.stdout.flush()


def _discard_stdout(stream: Any = None) -> None:
    """After a failed write to standard output (a broken pipe, a full disk): point it at /dev/null, so
    that nothing else tries (and fails) to write the rest of the buffer at exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, (stream or sys.stdout).fileno())
        os.close(devnull)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        (stream or sys.stdout).flush()


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="fcdata")
def cli() -> None:
    """Tool-calling fine-tuning data for Mistral models (v0.3 and the newer tokenizer versions).

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
    says which findings count; --strict makes rejections and warnings count; an input that holds no
    record or is cut off mid-record, or a run that writes none, always counts); 2 usage or I/O error: the run did not finish (an
    output that is also an input or cannot be written, an output folder holding files fcdata did not
    write, which it would replace, a full disk, an output pipe closed early as in `| head`); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM); an interrupted run that has not ended 30 s later exits then. A run that did not finish leaves
    nothing partial under an output's name.
    """


if __name__ == "__main__":  # pragma: no cover
    cli()
