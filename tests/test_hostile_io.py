"""Hostile conditions around the data rather than in it (issue 17, items 3-6, 8, 9): outputs that collide
with inputs, full disks, cut-off gzip files, killed runs, closed pipes, interrupts, and the small rules
every command must share. Each test fails without its fix.

Processes that must really die, be signalled or write into a pipe run as children (``python -m
fcdata.cli.main``); the rest run in process through click's runner. Data is real: the Glaive v2 rows of
``tests/fixtures/shared`` (see SOURCES.md there).
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fcdata.cli.main import cli
from fcdata.read import read_items

ROOT = Path(__file__).resolve().parent.parent
GLAIVE = ROOT / "tests" / "fixtures" / "shared" / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl"
FCDATA = [sys.executable, "-m", "fcdata.cli.main"]


def run(*argv: str) -> Any:
    return CliRunner().invoke(cli, list(argv))


def glaive_copy(path: Path, times: int = 1) -> Path:
    rows = GLAIVE.read_bytes()
    path.write_bytes(rows * times)
    return path


def canonical(tmp: Path, times: int = 1) -> Path:
    """Real Glaive rows converted to canonical records."""
    out = tmp / f"canonical{times}.jsonl"
    if not out.exists():
        r = run("convert", str(glaive_copy(tmp / f"glaive{times}.jsonl", times)), "-o", str(out))
        assert r.exit_code == 0, r.output
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith((".tmp", ".old", ".arrow")))


# ----------------------------------------------------------------------------- 3. colliding outputs


def _collisions(tmp: Path) -> list[tuple[list[str], Path]]:
    """(command, the input that must survive it) for every way an output can name an input or another
    output; ``tmp`` is the working folder."""
    a = glaive_copy(tmp / "a.jsonl")
    data = canonical(tmp)
    (tmp / "link.jsonl").symlink_to(a)
    os.link(a, tmp / "hard.jsonl")
    preds = tmp / "p.jsonl"
    preds.write_text(json.dumps({"id": "x", "reply": "hello"}) + "\n")
    return [
        (["convert", str(a), "-o", str(tmp / "o.jsonl"), "--rejects", str(a)], a),
        (["convert", str(a), "-o", str(tmp / "o.jsonl"), "--report", str(tmp / "o.jsonl")], a),
        (["convert", str(a), "-o", str(a)], a),
        (["convert", str(a), "-o", str(tmp / "." / "a.jsonl")], a),
        (["convert", str(a), "-o", str(tmp / "link.jsonl")], a),
        (["convert", str(a), "-o", str(tmp / "hard.jsonl")], a),
        (["convert", str(tmp / "link.jsonl"), "-o", str(tmp / "o.jsonl"), "--rejects", str(a)], a),
        (["validate", str(data), "--report", str(data)], data),
        (["validate", str(data), "--rejects", str(tmp / ".." / tmp.name / data.name)], data),
        (["score", str(preds), "-r", str(data), "--details", str(preds)], preds),
        (["score", str(preds), "-r", str(data), "--report", str(data)], data),
        (["prepare", str(data), "-o", str(tmp / "P.parquet"), "--report", str(tmp / "P.parquet")], data),
        (["prepare", str(data), "-o", str(tmp)], data),
        (["prepare", str(data), "-o", str(tmp / "P"), "--rejects", str(tmp / "P" / "rejects.jsonl")], data),
        (["inspect", str(data), "--html", str(data)], data),
    ]


def test_an_output_that_is_an_input_or_another_output_is_refused_before_any_work(tmp_path: Path) -> None:
    for argv, kept in _collisions(tmp_path):
        before = kept.read_bytes()
        names = sorted(p.name for p in tmp_path.iterdir())
        r = run(*argv)
        assert r.exit_code == 2, (argv, r.output)
        assert "Error:" in r.output and "Traceback" not in r.output, (argv, r.output)
        assert kept.read_bytes() == before, argv  # the input survived
        assert sorted(p.name for p in tmp_path.iterdir()) == names, argv  # and nothing was written


def test_a_folder_of_someone_elses_files_is_never_replaced(tmp_path: Path) -> None:
    """`prepare -o DIR` replaces DIR whole and a run replaces its sub-folders: a folder holding files
    fcdata did not write is refused before any work (exit 2), by the CLI and by the library, and its files
    survive; an earlier data set or an earlier run is replaced or resumed as before."""
    from fcdata.errors import FcdataError
    from fcdata.prepare import prepare

    data = canonical(tmp_path)
    mine = tmp_path / "project"
    (mine / "data").mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    (mine / "data" / "raw.jsonl").write_text("mine")
    for argv in (
        ["prepare", str(data), "-o", str(mine)],
        ["prepare", str(data), "-o", str(mine / "data")],
        ["train", str(data), "-o", str(mine), "--model", "tiny-mistral", "--max-steps", "1"],
        ["train-eval", str(data), "-o", str(mine), "--model", "tiny-mistral", "--max-steps", "1"],
    ):
        r = run(*argv)
        assert r.exit_code == 2 and "Traceback" not in r.output, (argv, r.output)
        assert "notes.txt" in r.output or "raw.jsonl" in r.output, r.output
    with pytest.raises(FcdataError, match="notes.txt"):
        prepare([str(data)], str(mine))
    assert sorted(str(p.relative_to(mine)) for p in mine.rglob("*")) == ["data", "data/raw.jsonl", "notes.txt"]
    assert (mine / "notes.txt").read_text() == "mine"
    # an earlier data set (or an empty folder) is replaced
    out = tmp_path / "prepared"
    out.mkdir()
    for _ in range(2):
        assert run("prepare", str(data), "-o", str(out)).exit_code == 0
    assert (out / "dataset_info.json").exists()


def test_an_output_that_is_a_link_is_written_through_it_and_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    """`-o link` writes where the link leads and keeps the link, for a file, a data set folder and a link
    that dangles; renaming a temporary over the link used to replace it (the data landed beside the
    link, on the wrong disk, and the link was gone). A replaced file keeps its permissions."""
    data = canonical(tmp_path)
    disk = tmp_path / "big_disk"
    disk.mkdir()
    (disk / "current.jsonl").write_text("old\n")
    os.chmod(disk / "current.jsonl", 0o600)
    (tmp_path / "current.jsonl").symlink_to(disk / "current.jsonl")
    (tmp_path / "later.jsonl").symlink_to(disk / "later.jsonl")  # dangling
    (tmp_path / "ds").symlink_to(disk / "ds")  # dangling, for a folder
    for argv in (
        ["convert", str(data), "-o", str(tmp_path / "current.jsonl")],
        ["convert", str(data), "-o", str(tmp_path / "later.jsonl")],
        ["prepare", str(data), "-o", str(tmp_path / "ds")],
        ["prepare", str(data), "-o", str(tmp_path / "ds")],  # again: the folder behind the link is replaced
    ):
        r = run(*argv)
        assert r.exit_code == 0, (argv, r.output)
    for name in ("current.jsonl", "later.jsonl", "ds"):
        assert (tmp_path / name).is_symlink(), name
    assert run("convert", str(data), "-o", str(tmp_path / "plain.jsonl")).exit_code == 0
    want = (tmp_path / "plain.jsonl").read_bytes()
    assert (disk / "current.jsonl").read_bytes() == want
    assert stat.S_IMODE(os.stat(disk / "current.jsonl").st_mode) == 0o600
    assert (disk / "later.jsonl").read_bytes() == want
    assert (disk / "ds" / "dataset_info.json").exists() or any((disk / "ds").iterdir())
    assert leftovers(tmp_path) == [] and leftovers(disk) == []


def test_standard_input_twice_is_a_usage_error_everywhere(tmp_path: Path) -> None:
    data = canonical(tmp_path)
    for argv in (["convert", "-", "-", "-o", str(tmp_path / "o.jsonl")], ["validate", "-", "-"], ["prepare", "-", "-", "-o", str(tmp_path / "p")], ["score", "-", "--references", "-"]):
        r = CliRunner().invoke(cli, argv, input=data.read_text())
        assert r.exit_code == 2 and "standard input ('-') can be read only once" in r.output, (argv, r.output)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_side_output_that_fails_is_the_one_named(tmp_path: Path) -> None:
    """--rejects on a full device names that device, not -o (which is left as it was); a report that
    cannot be written after the run says that the other outputs were written in full."""
    data = canonical(tmp_path)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"\xff not json\n" * 20)
    out = tmp_path / "o.jsonl"
    out.write_text("PRECIOUS")
    r = run("convert", str(garbage), "-o", str(out), "--rejects", "/dev/full")
    assert r.exit_code == 2 and "Error: /dev/full: cannot write" in r.output, r.output
    assert out.read_text() == "PRECIOUS"
    r = run("convert", str(data), "-o", str(out), "--report", "/dev/full")
    assert r.exit_code == 2 and "/dev/full" in r.output and f"wrote {out} in full: only the report is missing" in r.output, r.output


def test_an_unwritable_output_is_found_before_the_data_is_written(tmp_path: Path) -> None:
    data = canonical(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = tmp_path / "o.jsonl"
    for argv in (
        ["convert", str(data), "-o", str(out), "--report", str(blocker / "r.json")],
        ["convert", str(data), "-o", str(out), "--rejects", str(blocker / "sub" / "r.jsonl")],
        ["validate", str(data), "--report", str(blocker / "r.json")],
        ["prepare", str(data), "-o", str(tmp_path / "P"), "--report", str(blocker / "r.json")],
    ):
        r = run(*argv)
        assert r.exit_code == 2 and "is not a folder" in r.output, (argv, r.output)
        assert not out.exists() and not (tmp_path / "P").exists(), argv


# --------------------------------------------------------------------------------------- 4. disk full


def _limited(limit: int) -> Any:
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return setup


@pytest.mark.parametrize(
    "case",
    ["jsonl", "parquet", "dataset", "report", "rejects", "html", "synth"],
)
def test_a_full_disk_is_one_line_and_exit_2_with_nothing_left_behind(tmp_path: Path, case: str) -> None:
    """Every writer, with the file size limit of the process below what it writes: the kernel refuses the
    write as a full disk would (EFBIG rather than ENOSPC; the path through fcdata is the same)."""
    data = canonical(tmp_path, 2)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n" * 2000)
    out = tmp_path / "out"
    out.mkdir()
    argv, target, limit = {
        "jsonl": (["convert", str(data), "-o", str(out / "o.jsonl")], out / "o.jsonl", 50_000),
        "parquet": (["convert", str(data), "-o", str(out / "o.parquet")], out / "o.parquet", 4_000),
        "dataset": (["prepare", str(data), "-o", str(out / "P")], out / "P", 100_000),
        "report": (["validate", str(data), "--report", str(out / "r.json")], out / "r.json", 30),
        "rejects": (["convert", str(garbage), "-o", "-", "--rejects", str(out / "r.jsonl")], out / "r.jsonl", 5_000),
        "html": (["inspect", str(data), "--html", str(out / "v.html"), "--count", "5"], out / "v.html", 20_000),
        "synth": (["synth", "-o", str(out / "s.jsonl")], out / "s.jsonl", 20_000),
    }[case]
    proc = subprocess.run([*FCDATA, *argv], capture_output=True, text=True, timeout=120, preexec_fn=_limited(limit), stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(target) in errors[0] and "File too large" in errors[0], proc.stderr[-2000:]
    assert not target.exists() and leftovers(out) == [], sorted(p.name for p in out.iterdir())


def test_standard_output_on_a_full_disk_is_exit_2(tmp_path: Path) -> None:
    data = canonical(tmp_path)
    for argv in (["convert", str(data), "-o", "-"], ["validate", str(data)], ["stats", "--help"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([*FCDATA, *argv], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        assert proc.returncode == 2, (argv, proc.stderr[-2000:])
        assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


# --------------------------------------------------------------------------------- 5. cut-off gzip


def _half_gzip(tmp: Path, rows: int = 280) -> tuple[Path, int]:
    """A gzip file of ``rows`` real lines cut in half, and how many complete lines its first half holds
    (decompressing it as far as zlib can)."""
    lines = GLAIVE.read_bytes().splitlines(keepends=True)
    body = b"".join(lines[i % len(lines)] for i in range(rows))
    whole = gzip.compress(body, mtime=0)
    cut = tmp / "half.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    complete = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(whole[: len(whole) // 2]).count(b"\n")
    assert 0 < complete < rows
    return cut, complete


def test_a_cut_off_gzip_keeps_every_complete_record_then_says_where_it_was_cut(tmp_path: Path) -> None:
    cut, complete = _half_gzip(tmp_path)
    items = list(read_items(cut))
    assert sum(i.ok for i in items) == complete
    assert [i.code for i in items[complete:]] == ["truncated_file"] and items[-1].line == complete + 1
    # every command reads the same records: convert (its own raw-line batches), validate, prepare
    r = run("convert", str(cut), "-o", str(tmp_path / "c.jsonl"), "--report", str(tmp_path / "c.json"))
    rep = json.loads((tmp_path / "c.json").read_text())
    assert rep["read"] == complete + 1 and rep["rejections"].get("truncated_file") == 1, rep
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == rep["kept"]
    # a cut-off input is a finding with or without --strict: what followed the cut is lost uncounted
    assert r.exit_code == 1 and f"{cut}: cut off in the middle of a record" in r.output, r.output
    assert rep["cut_inputs"] == [str(cut)] and rep["per_input"][0]["cut"] is True, rep
    r = run("validate", str(cut), "--report", str(tmp_path / "v.json"))
    rep = json.loads((tmp_path / "v.json").read_text())
    assert rep["read"] == complete + 1 and rep["errors"]["truncated_file"] == 1 and rep["rejections"]["truncated_file"] == 1, r.output
    truncated = [f for f in rep["findings"] if f["code"] == "truncated_file"]
    assert truncated[0]["line"] == complete + 1
    for procs in ("1", "2"):
        r = run("prepare", str(cut), "-o", str(tmp_path / f"P{procs}"), "--report", str(tmp_path / f"p{procs}.json"), "--num-proc", procs)
        rep = json.loads((tmp_path / f"p{procs}.json").read_text())
        assert rep["read"] == complete + 1 and rep["rejections"] == {"truncated_file": 1}, (procs, rep)
        assert r.exit_code == 1 and rep["cut_inputs"] == [str(cut)] and "cut off in the middle" in r.output, (procs, r.output)
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(GLAIVE.read_bytes())
    r = run("convert", str(whole), "-o", str(tmp_path / "w.jsonl"), "--report", str(tmp_path / "w.json"))
    assert r.exit_code == 0 and json.loads((tmp_path / "w.json").read_text())["cut_inputs"] == [], r.output


def test_a_cut_inside_a_record_reports_that_records_line(tmp_path: Path) -> None:
    lines = GLAIVE.read_bytes().splitlines(keepends=True)[:10]
    body = b"".join(lines)
    whole = gzip.compress(body, mtime=0)
    # cut the compressed stream after the point where line 8 is half decompressed
    for size in range(len(whole) - 1, 0, -1):
        out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(whole[:size])
        if out.count(b"\n") == 7 and len(out) > sum(map(len, lines[:7])) + 20:
            break
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[:size])
    items = list(read_items(path))
    assert [i.ok for i in items] == [True] * 7 + [False]
    assert items[-1].line == 8 and items[-1].code == "truncated_file" and "cut off inside this record" in (items[-1].error or "")


def test_concatenated_and_padded_gzip_members_read_whole(tmp_path: Path) -> None:
    lines = GLAIVE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "multi.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(lines[:5]), mtime=0) + gzip.compress(b"".join(lines[5:9]), mtime=0) + b"\0" * 512)
    items = list(read_items(path))
    assert len(items) == 9 and all(i.ok for i in items)


# ------------------------------------------------------------------------------------- 6. killed runs


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background job may have inherited "ignore"


_STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test() -> Any:
    """Whatever a test asserts, the fcdata it started (and that one's workers: its own process group)
    is gone when the test ends; a failing probe must not leave a run behind."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


def _start_and_wait(argv: list[str], folder: Path, min_children: int) -> tuple[subprocess.Popen[bytes], list[int]]:
    """Start fcdata (in a session of its own, so that the test can end it and its workers whatever
    happens), wait until its temporary output exists beside the target and its workers run."""
    proc = subprocess.Popen([*FCDATA, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_default_sigint, start_new_session=True)
    _STARTED.append(proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        kids = _children(proc.pid)
        if leftovers(folder) and len(kids) >= min_children:
            return proc, kids
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("fcdata never started its workers")


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough real rows (Glaive, 600 copies of 73) that a run lasts seconds, on any machine."""
    return glaive_copy(tmp_path_factory.mktemp("big") / "glaive.jsonl", 600)


@pytest.mark.parametrize("command", ["convert", "prepare"])
def test_sigterm_removes_temporaries_and_stops_the_workers(tmp_path: Path, big_input: Path, command: str) -> None:
    target = tmp_path / ("o.jsonl" if command == "convert" else "P")
    proc, workers = _start_and_wait([command, str(big_input), "-o", str(target), "--num-proc", "2"], tmp_path, 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)  # returns: nothing else holds its stderr open
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()[-2000:]
    assert b"Traceback" not in err
    time.sleep(0.5)
    assert not any(_alive(w) for w in workers)
    assert leftovers(tmp_path) == [] and not target.exists()


@pytest.mark.parametrize("command", ["convert", "prepare"])
def test_sigkill_takes_the_workers_along_and_the_next_run_sweeps_the_temporaries(tmp_path: Path, big_input: Path, command: str) -> None:
    target = tmp_path / ("o.jsonl" if command == "convert" else "P")
    proc, workers = _start_and_wait([command, str(big_input), "-o", str(target), "--num-proc", "2"], tmp_path, 2)
    proc.kill()
    proc.communicate(timeout=30)  # the pipe closes: no worker holds stderr
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
    left = leftovers(tmp_path)
    assert left and all(f".{proc.pid}." in name for name in left)  # named after the dead process
    small = glaive_copy(tmp_path / "small.jsonl")
    r = run(command, str(small), "-o", str(target))
    assert r.exit_code == 0, r.output
    assert leftovers(tmp_path) == []


def test_sigint_exits_130_not_1_and_leaves_nothing(tmp_path: Path, big_input: Path) -> None:
    target = tmp_path / "o.jsonl"
    proc, _ = _start_and_wait(["convert", str(big_input), "-o", str(target)], tmp_path, 0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-2000:]
    assert b"Traceback" not in err and leftovers(tmp_path) == [] and not target.exists()


_WEDGED_CLEANUP = """
import sys, threading, time
from fcdata.cli import main as m
m.STOP_GRACE_S = 1.0
with m._process_guard():
    try:
        print("ready", flush=True)
        time.sleep(60)
    except BaseException:
        lock = threading.Lock()
        lock.acquire()
        lock.acquire()  # a clean-up that waits for ever, as one on a lock an interrupt left held did
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_run_whose_clean_up_hangs_still_ends_after_the_grace_period(sig: int) -> None:
    """The last resort behind the fix of the Ctrl-C hang: whatever wedges after a stop signal, the
    process ends STOP_GRACE_S later with 128 + signal, saying why."""
    proc = subprocess.Popen([sys.executable, "-c", _WEDGED_CLEANUP], stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint, start_new_session=True)
    _STARTED.append(proc)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    started = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err.decode()
    assert time.monotonic() - started < 20
    assert b"asked to stop; exiting now" in err and b"Traceback" not in err


# ------------------------------------------------------------------------------- 8. closed stdout


def _into_pipe(argv: list[str], *, read_lines: int | None, unbuffered: bool) -> tuple[int, str]:
    """Run fcdata with stdout into a pipe whose reader reads ``read_lines`` lines then closes it (None:
    reads everything; 0: closed before fcdata starts)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"} if unbuffered else {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    rfd, wfd = os.pipe()
    reader = os.fdopen(rfd, "rb")
    if read_lines == 0:
        reader.close()
    proc = subprocess.Popen([*FCDATA, *argv], stdout=wfd, stderr=subprocess.PIPE, env=env, start_new_session=True)
    _STARTED.append(proc)
    os.close(wfd)
    if read_lines:
        for _ in range(read_lines):
            reader.readline()
        reader.close()
    elif read_lines is None:
        reader.read()
        reader.close()
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode()


@pytest.mark.parametrize("unbuffered", [True, False])
def test_output_lost_to_a_closed_pipe_is_exit_2_and_output_delivered_is_0(tmp_path: Path, unbuffered: bool) -> None:
    data = canonical(tmp_path, 4)  # about 360 kB of output: more than a pipe holds
    small = canonical(tmp_path, 1)
    cases = [
        (["convert", str(data), "-o", "-"], 1, 2),  # `| head -1`: the rest is lost
        (["convert", str(small), "-o", "-"], 0, 2),  # a small output into a closed pipe (was 120)
        (["inspect", str(small)], 0, 2),  # was 0 or 120 at random
        (["validate", str(small)], 0, 2),
        (["convert", str(data), "-o", "-"], None, 0),  # read whole: nothing lost
        (["inspect", str(small)], None, 0),
    ]
    for argv, read_lines, expected in cases:
        code, err = _into_pipe(argv, read_lines=read_lines, unbuffered=unbuffered)
        assert code == expected, (argv, read_lines, code, err[-2000:])
        assert "Traceback" not in err and "Exception ignored" not in err, err[-2000:]


# ----------------------------------------------------------------------------- 9. one rule for all


def test_non_object_metadata_is_wrong_type_in_convert_as_in_validate(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in canonical(tmp_path).read_text().splitlines()[:2]]
    rows[0]["metadata"] = [1, 2]
    rows[1]["metadata"] = "note"
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = run("convert", str(path), "-o", str(tmp_path / "o.jsonl"), "--report", str(tmp_path / "c.json"))
    assert json.loads((tmp_path / "c.json").read_text())["rejections"] == {"wrong_type": 2}
    r = run("validate", str(path), "--report", str(tmp_path / "v.json"))
    assert r.exit_code == 1 and json.loads((tmp_path / "v.json").read_text())["rejections"] == {"wrong_type": 2}


def test_a_number_beyond_a_double_is_refused_alike_everywhere(tmp_path: Path) -> None:
    row = json.loads(canonical(tmp_path).read_text().splitlines()[0])
    row["metadata"] = {"score": 12345}
    path = tmp_path / "inf.jsonl"
    path.write_text(json.dumps(row).replace("12345", "1e999") + "\n" + json.dumps(row) + "\n")
    r = run("convert", str(path), "-o", str(tmp_path / "o.jsonl"), "--report", str(tmp_path / "c.json"))
    assert json.loads((tmp_path / "c.json").read_text())["rejections"] == {"non_finite_number": 1}
    r = run("validate", str(path), "--report", str(tmp_path / "v.json"))
    assert r.exit_code == 1 and json.loads((tmp_path / "v.json").read_text())["rejections"] == {"non_finite_number": 1}
    r = run("prepare", str(path), "-o", str(tmp_path / "P"), "--report", str(tmp_path / "p.json"))
    assert json.loads((tmp_path / "p.json").read_text())["rejections"] == {"non_finite_number": 1}
    # and in a JSON document, the next value is still read
    doc = tmp_path / "d.json"
    doc.write_text("[" + json.dumps(row).replace("12345", "-1e400") + ", " + json.dumps(row) + "]")
    assert [i.code for i in read_items(doc)] == ["non_finite_number", None]


@pytest.mark.parametrize("strict", [[], ["--strict"]])
def test_an_empty_input_is_a_finding_in_every_command(tmp_path: Path, strict: list[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    data = canonical(tmp_path)
    for argv in (
        ["convert", str(empty), "-o", str(tmp_path / "o.jsonl")],
        ["convert", str(data), str(empty), "-o", str(tmp_path / "o2.jsonl")],
        ["validate", str(empty)],
        ["prepare", str(empty), "-o", str(tmp_path / "P")],
        ["prepare", str(data), str(empty), "-o", str(tmp_path / "P2")],
        ["score", str(empty), "-r", str(data)],
    ):
        if argv[0] == "score" and strict:
            continue  # score has no --strict: its findings always count
        r = run(*argv, *strict)
        assert r.exit_code == 1, (argv, r.output)
        assert "empty" in r.output or "no prediction was scored" in r.output, (argv, r.output)


# --------------------------------------- outputs that are devices or pipes (found beside item 3)


def test_a_device_or_a_pipe_as_output_is_written_in_place_never_replaced(tmp_path: Path) -> None:
    """Renaming a temporary file over ``-o /dev/null`` would, as root, replace the system's /dev/null with
    a plain file; over a FIFO, the reader would get nothing. Both are written in place."""
    data = canonical(tmp_path)
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null, to be safe
    except PermissionError:
        device = Path(os.devnull)
    r = run("convert", str(data), "-o", str(device))
    assert r.exit_code == 0, r.output
    assert stat.S_ISCHR(os.stat(device).st_mode)
    r = run("convert", str(data), "-o", os.devnull, "--report", os.devnull, "--rejects", os.devnull)
    assert r.exit_code == 0 and stat.S_ISCHR(os.stat(os.devnull).st_mode), r.output
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    r = run("convert", str(data), "-o", str(fifo))
    got, _ = reader.communicate(timeout=30)
    assert r.exit_code == 0 and stat.S_ISFIFO(os.stat(fifo).st_mode)
    r = run("convert", str(data), "-o", str(tmp_path / "plain.jsonl"))
    assert r.exit_code == 0, r.output
    assert got == (tmp_path / "plain.jsonl").read_bytes()  # the reader got every byte a file would hold


def test_dev_stdin_to_dev_stdout_is_no_collision_and_the_summary_stays_off_the_data(tmp_path: Path) -> None:
    data = canonical(tmp_path)
    with data.open("rb") as stdin:
        proc = subprocess.run([*FCDATA, "convert", "/dev/stdin", "-o", "/dev/stdout"], stdin=stdin, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = run("convert", str(data), "-o", str(tmp_path / "plain.jsonl"))
    assert r.exit_code == 0, r.output
    assert proc.stdout == (tmp_path / "plain.jsonl").read_bytes().replace(str(data).encode(), b"/dev/stdin")
    assert b"kept" in proc.stderr  # the summary table

