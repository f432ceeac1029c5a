"""Atomic, deterministic writers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fcdata.write import JsonlWriter, atomic_path, write_json, write_jsonl, write_parquet


def test_crash_leaves_no_partial_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")

    def rows():
        yield {"a": 1}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl(target, rows())
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_jsonl_is_unicode_and_keeps_key_order(tmp_path: Path) -> None:
    target = tmp_path / "o.jsonl"
    write_jsonl(target, [{"z": "é", "a": [1, {"y": 2, "b": 3}]}])
    assert target.read_bytes() == '{"z": "é", "a": [1, {"y": 2, "b": 3}]}\n'.encode()


def test_parquet_bytes_are_identical_run_to_run(tmp_path: Path) -> None:
    rows = [{"messages": [{"role": "user", "content": str(i)}], "tools": [], "metadata": {"i": i}} for i in range(25_000)]
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_parquet(a, rows)
    write_parquet(b, iter(rows))
    assert a.read_bytes() == b.read_bytes()


def test_directory_replace_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "ds"
    with atomic_path(target, directory=True) as tmp:
        Path(tmp, "f").write_text("1")
    with pytest.raises(ValueError):
        with atomic_path(target, directory=True) as tmp:
            Path(tmp, "f").write_text("2")
            raise ValueError
    assert (target / "f").read_text() == "1"
    assert sorted(os.listdir(tmp_path)) == ["ds"]


def test_writer_close_with_error_discards(tmp_path: Path) -> None:
    w = JsonlWriter(tmp_path / "r.jsonl")
    w.write({"a": 1})
    w.close(RuntimeError("x"))
    assert not (tmp_path / "r.jsonl").exists()


def test_write_json_has_trailing_newline(tmp_path: Path) -> None:
    write_json(tmp_path / "r.json", {"b": 1, "a": 2})
    assert (tmp_path / "r.json").read_text() == '{\n  "b": 1,\n  "a": 2\n}\n'


def test_parquet_mixes_record_kinds_and_late_columns(tmp_path: Path) -> None:
    from fcdata.read import read_items

    rows = [{"text": f"t{i}", "metadata": {"i": i}} for i in range(25)] + [{"messages": [{"role": "user", "content": "hi"}], "tools": [], "metadata": None}]
    target = tmp_path / "mix.parquet"
    write_parquet(target, rows, row_group_size=10)  # the chat columns first appear after two row groups
    got = [i.value for i in read_items(target)]
    assert got[0] == {"text": "t0", "metadata": {"i": 0}}
    assert got[-1] == {"messages": [{"role": "user", "content": "hi"}], "tools": []}


def test_parquet_refuses_unknown_keys(tmp_path: Path) -> None:
    from fcdata.errors import InputError

    with pytest.raises(InputError, match="outside the Parquet columns"):
        write_parquet(tmp_path / "x.parquet", [{"text": "a", "extra": 1}])
    assert not (tmp_path / "x.parquet").exists()


def test_background_writer_writes_in_order_and_syncs(tmp_path: Path) -> None:
    from fcdata.write import BackgroundWriter, atomic_open

    target = tmp_path / "o.txt"
    with atomic_open(target) as fh, BackgroundWriter(fh, sync_every=10) as out:
        for k in range(500):
            out.write(f"{k}\n")
    assert target.read_text().splitlines() == [str(k) for k in range(500)]


def test_background_writer_raises_the_threads_error_in_the_caller() -> None:
    from fcdata.write import BackgroundWriter

    class Broken:
        def write(self, text: str) -> None:
            raise BrokenPipeError("closed")

    out = BackgroundWriter(Broken())  # type: ignore[arg-type]
    with pytest.raises(BrokenPipeError):
        for _ in range(100):
            out.write("x")
        out.close()
    with pytest.raises(BrokenPipeError):
        out.close()


def test_background_writer_stops_on_the_callers_error_and_leaves_no_file(tmp_path: Path) -> None:
    from fcdata.write import BackgroundWriter, atomic_open

    target = tmp_path / "o.txt"
    with pytest.raises(KeyError):
        with atomic_open(target) as fh, BackgroundWriter(fh) as out:
            out.write("partial\n")
            raise KeyError("boom")
    assert os.listdir(tmp_path) == []


def test_background_writer_still_writes_what_it_was_given_when_the_caller_fails() -> None:
    import io

    from fcdata.write import BackgroundWriter

    stream = io.StringIO()
    with pytest.raises(KeyError):
        with BackgroundWriter(stream, depth=2) as out:
            for k in range(6):
                out.write(f"{k}\n")
            raise KeyError("boom")
    assert stream.getvalue() == "".join(f"{k}\n" for k in range(6))  # as writing inline would have


def _interrupted_at_call(n: int, arm_at: int) -> str:
    """Write 40 texts through a BackgroundWriter, from the ``arm_at``-th on raising KeyboardInterrupt
    at the ``n``-th Python function the writing thread enters, as Ctrl-C arriving there would (a
    signal's handler runs at the next function entry). In a thread of its own, so that a hang is seen
    as one: ``"interrupted"``, ``"finished"`` (fewer than ``n`` calls) or ``"hang"``."""
    import io
    import sys
    import threading
    import time

    from fcdata.write import BackgroundWriter

    class Slow(io.StringIO):
        def write(self, text: str) -> int:  # slower than the caller: it waits for a slot too
            time.sleep(0.0005)
            return super().write(text)

    calls = [0]
    armed = [False]

    def tracer(frame: object, event: str, arg: object) -> None:
        if event == "call" and armed[0]:
            calls[0] += 1
            if calls[0] == n:
                armed[0] = False
                sys.settrace(None)
                raise KeyboardInterrupt
        return None

    outcome: list[str] = []

    def body() -> None:
        try:
            with BackgroundWriter(Slow(), depth=2) as out:
                for k in range(40):
                    if k == arm_at:
                        armed[0] = True
                        sys.settrace(tracer)
                    out.write(f"{k}\n")
                sys.settrace(None)
        except KeyboardInterrupt:
            outcome.append("interrupted")
        else:
            outcome.append("finished")

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(10)
    return outcome[0] if outcome else "hang"


@pytest.mark.parametrize("arm_at", [0, 39])
def test_background_writer_never_hangs_on_an_interrupt_wherever_it_lands(arm_at: int) -> None:
    """`fcdata convert` hung on Ctrl-C (one CI run in five): the writer used queue.Queue, whose
    Python-level Condition code, interrupted while holding the queue's lock, left it held, and the
    end marker's put waited for ever. On queue.Queue 44 of 119 interruption points hung."""
    outcomes = {n: _interrupted_at_call(n, arm_at) for n in range(1, 120)}
    assert [n for n, o in outcomes.items() if o == "hang"] == []
    assert "interrupted" in outcomes.values()


def test_background_writer_syncs_every_sync_every_characters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcdata.write as write_mod

    calls: list[int] = []
    monkeypatch.setattr(write_mod, "_datasync", lambda fd: calls.append(fd))  # (os.fsync where there is no fdatasync)
    with open(tmp_path / "o.txt", "w") as fh, write_mod.BackgroundWriter(fh, sync_every=4) as out:
        for _ in range(3):
            out.write("12345")
    assert len(calls) == 3 and (tmp_path / "o.txt").read_text() == "12345" * 3


def test_prepare_never_replaces_a_data_set_it_did_not_write(tmp_path) -> None:
    """`prepare -o FOLDER` replaced any `save_to_disk` folder: a user's own raw data set (or a
    DatasetDict of splits) was wiped, exit 0. Only a data set fcdata prepared is replaced."""
    import datasets
    from click.testing import CliRunner

    from fcdata.cli.main import cli
    from fcdata.write import dataset_folder_problem

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}) + "\n")
    raw = datasets.Dataset.from_list([{"messages": "[]", "tools": "[]"}])
    raw.save_to_disk(str(tmp_path / "mine"))
    datasets.DatasetDict({"train": raw, "test": raw}).save_to_disk(str(tmp_path / "splits"))
    for name in ("mine", "splits"):
        before = sorted(p.name for p in (tmp_path / name).iterdir())
        assert dataset_folder_problem(tmp_path / name) is not None
        res = CliRunner().invoke(cli, ["prepare", str(data), "-o", str(tmp_path / name)])
        assert res.exit_code == 2 and "fcdata did not write" in res.output, res.output
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == before
    ours = tmp_path / "ours"
    for _ in range(2):  # a data set fcdata prepared is replaced, run after run
        assert CliRunner().invoke(cli, ["prepare", str(data), "-o", str(ours)]).exit_code == 0
