"""The GPU proof kit (benchmarks/gpu_proofs.sh): its CPU smoke mode runs every part end to end, a part
that outlives its deadline is stopped with what it saved, the budget flows to later parts, the claims get
the right verdicts, and the README's GPU section is what the committed JSON says."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_proofs  # noqa: E402


def test_smoke_run_exercises_every_part(tmp_path) -> None:
    """One smoke run, as the GPU machine runs the kit (the shell script, figures in $OUT): every part ends
    ok inside the budget, with figures from every code path (one test: the run is the expensive bit)."""
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    env.pop("FCDATA_REQUIRE_GPU", None)
    started = time.perf_counter()
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_proofs.sh"), "--smoke"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    doc = json.loads((out / "gpu_proofs.json").read_text(encoding="utf-8"))

    assert sorted(p.name for p in out.iterdir()) == ["gpu_proofs.json", "gpu_proofs.log", "gpu_proofs.md"]
    assert doc["mode"] == "smoke" and doc["command"] == "bash benchmarks/gpu_proofs.sh --smoke"
    assert list(doc["parts"]) == list(gpu_proofs.PARTS)
    problems = {n: (p["status"], p.get("error"), p.get("wall_s"), p.get("share_s")) for n, p in doc["parts"].items() if p["status"] != "ok"}
    assert not problems, problems
    assert doc["wall_s"] < doc["budget_s"] and wall < doc["budget_s"] + 30
    assert doc["environment"]["torch"] and doc["device"] == "cpu"
    assert [c["id"] for c in doc["claims"]] == [c[0] for c in gpu_proofs.CLAIMS]
    assert all(c["met"] is None for c in doc["claims"])  # a smoke run proves nothing about the GPU
    md = (out / "gpu_proofs.md").read_text(encoding="utf-8")
    assert md == gpu_proofs.markdown(doc) and md.count("\n| ") == len(gpu_proofs.CLAIMS) + 1
    assert "gpu_proofs.sh" in (out / "gpu_proofs.log").read_text(encoding="utf-8")

    parts = {n: p["figures"] for n, p in doc["parts"].items()}
    t = parts["tests"]  # the GPU tests were collected and, without CUDA, skipped (not failed, not missing)
    assert t["skipped"] >= 5 and t["passed"] == t["failed"] == t["error"] == 0 and t["exit_code"] == 0
    assert all("needs a CUDA GPU" in c["message"] for c in t["tests"])
    rows = {r["mode"]: r for r in parts["packing"]["results"]}
    assert set(rows) == {"padded-max", "padded", "packed"}
    assert all(r["complete"] and r["trained_tokens_per_s"] > 0 for r in rows.values()) and parts["packing"]["collators"]
    assert len({(r["trained_tokens"], r["real_tokens"]) for r in rows.values()}) == 1  # same targets in every mode
    assert rows["packed"]["slots"] <= rows["padded"]["slots"] < rows["padded-max"]["slots"] == 6 * 256
    q = parts["qlora"]
    assert q["fcdata"]["steps"] >= 2 and q["plain"]["steps"] >= 2 and q["speedup_trained_tokens"] > 0
    assert q["plan_fcdata"]["estimate_gib"] > 0 and q["plan_plain"]["estimate_gib"] > 0
    s = parts["synth"]
    assert s["train"]["steps"] >= 2 and s["curve"] and s["before_accuracy"] is not None and s["after_accuracy"] is not None
    assert s["plan"]["estimate_gib"] > 0 and s["settings"]["full"] is True and s["settings"]["lr_scheduler"] == "constant"
    assert all(p["lr"] > 0 for p in s["curve"]) and s["train_budget_s"] > 0


def test_the_wall_clock_schedule_warms_up_decays_and_stops(monkeypatch) -> None:
    import bench_train_gpu

    now = [1000.0]
    monkeypatch.setattr(bench_train_gpu.time, "perf_counter", lambda: now[0])
    schedule = bench_train_gpu.wall_clock_schedule(1e-3, warmup=0.05, floor=0.1)
    schedule.on_train_begin(None, None, None)
    schedule.start(100.0)
    optimizer = argparse.Namespace(param_groups=[{"lr": 5.0}, {"lr": 5.0}])
    control = argparse.Namespace(should_training_stop=False)
    seen = {}
    for t in (1.0, 5.0, 52.5, 99.0, 100.0):
        now[0] = 1000.0 + t
        schedule.on_pre_optimizer_step(None, None, control, optimizer=optimizer)
        seen[t] = optimizer.param_groups[1]["lr"]
        schedule.on_step_end(None, None, control)
        assert control.should_training_stop is (t >= 100.0)
    assert seen[1.0] == pytest.approx(2e-4) and seen[5.0] == pytest.approx(1e-3)  # linear warm-up to the peak
    assert seen[52.5] == pytest.approx(1e-4 + 0.9e-3 * 0.5) and seen[100.0] == pytest.approx(1e-4)  # cosine to a tenth
    assert seen[5.0] > seen[52.5] > seen[99.0] > seen[100.0]
    deadline = bench_train_gpu.deadline_callback(time.time() - 1)
    control = argparse.Namespace(should_training_stop=False)
    deadline.on_step_end(None, None, control)
    assert control.should_training_stop and deadline.stopped


def _opts(tmp_path: Path, **kw: Any) -> argparse.Namespace:
    base = dict(smoke=True, work=str(tmp_path), out=str(tmp_path / "out"), parts=list(gpu_proofs.PARTS), budget=60.0, started_at=None, start_method="fork", command="test", packing_args="", train_args="")
    return argparse.Namespace(**{**base, **kw})


def _sleeper(opts: argparse.Namespace, deadline: float, progress: Any) -> dict[str, Any]:
    child = subprocess.Popen(["sleep", "120"])
    progress({"measured": 1, "grandchild": child.pid})
    time.sleep(120)
    return {"measured": 2}


def _failing(opts: argparse.Namespace, deadline: float, progress: Any) -> dict[str, Any]:
    progress({"measured": 1})
    raise RuntimeError("CUDA error: an illegal memory access was encountered")


def _quick(opts: argparse.Namespace, deadline: float, progress: Any) -> dict[str, Any]:
    return {"deadline_in_s": deadline - time.time()}


def test_a_part_past_its_deadline_is_stopped_with_what_it_saved(tmp_path, monkeypatch) -> None:
    import multiprocessing

    monkeypatch.setitem(gpu_proofs.PART_FUNCTIONS, "packing", _sleeper)
    monkeypatch.setattr(gpu_proofs, "KILL_GRACE_S", 1.0)
    monkeypatch.setattr(gpu_proofs, "_bench", lambda name: argparse.Namespace(environment=lambda: {"gpu": None}))
    started = time.time()
    result = gpu_proofs.run_part("packing", _opts(tmp_path), time.time() + 1.0, multiprocessing.get_context("fork"))
    assert time.time() - started < 15
    assert result["status"] == "stopped" and "after its deadline" in result["error"]
    assert result["figures"]["measured"] == 1  # what it had saved
    # what the part started went with it (its process group): gone, or a zombie nobody has reaped yet
    assert _gone(result["figures"]["grandchild"])


def _gone(pid: int) -> bool:
    for _ in range(50):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_a_part_that_fails_keeps_its_figures_and_the_reason(tmp_path, monkeypatch) -> None:
    import multiprocessing

    monkeypatch.setitem(gpu_proofs.PART_FUNCTIONS, "qlora", _failing)
    monkeypatch.setattr(gpu_proofs, "_bench", lambda name: argparse.Namespace(environment=lambda: {"gpu": None}))
    result = gpu_proofs.run_part("qlora", _opts(tmp_path), time.time() + 30.0, multiprocessing.get_context("fork"))
    assert result["status"] == "error" and "illegal memory access" in result["error"] and "RuntimeError" in result["traceback"]
    assert result["figures"] == {"measured": 1} and result["wall_s"] < 25


def test_time_an_early_part_leaves_goes_to_the_later_ones(tmp_path, monkeypatch) -> None:
    for name in gpu_proofs.PARTS:
        monkeypatch.setitem(gpu_proofs.PART_FUNCTIONS, name, _quick)
    monkeypatch.setattr(gpu_proofs, "_bench", lambda name: argparse.Namespace(environment=lambda: {"gpu": None}))
    doc = gpu_proofs.run_all(_opts(tmp_path, budget=100.0, smoke=False))  # the GPU run's shares
    usable = 100.0 - gpu_proofs.RESERVE_S
    shares = {n: p["figures"]["deadline_in_s"] for n, p in doc["parts"].items()}
    assert shares["tests"] == pytest.approx(usable * gpu_proofs.SHARES["tests"], abs=3)
    assert shares["synth"] > usable * 0.8  # the last part gets what the quick ones left
    assert (Path(tmp_path) / "out" / "gpu_proofs.json").is_file()
    late = gpu_proofs.run_all(_opts(tmp_path, budget=100.0, started_at=time.time() - 95.0))
    assert {p["status"] for p in late["parts"].values()} == {"not run"}


def _gpu_doc(**figures: Any) -> dict[str, Any]:
    parts = {name: {"status": "ok", "figures": f} for name, f in figures.items()}
    return {"mode": "gpu", "device": "NVIDIA H200", "date": "2030-01-01", "command": "bash benchmarks/gpu_proofs.sh", "wall_s": 500.0, "budget_s": 510.0, "parts": parts}


def test_claims_get_their_verdicts_from_the_figures() -> None:
    plan = {"estimate_gib": 10.0, "measured_gib": 11.0, "ratio_estimate_to_measured": 0.909, "within_15_percent": True}
    bad_plan = {"estimate_gib": 10.0, "measured_gib": 13.0, "ratio_estimate_to_measured": 0.769, "within_15_percent": False}
    doc = _gpu_doc(
        tests={"passed": 7, "failed": 1, "error": 0, "skipped": 4},
        qlora={"fcdata_peak_gib": 12.5, "memory_target_met": True, "speedup_trained_tokens": 2.4, "speed_target_met": False,
               "fcdata": {"trained_tokens_per_second": 2400.0}, "plain": {"trained_tokens_per_second": 1000.0}, "plan_fcdata": plan, "plan_plain": bad_plan},
    )  # fmt: skip
    doc["parts"]["synth"] = {"status": "stopped", "error": "still running", "figures": {"curve": [{"accuracy": 0.5}, {"accuracy": 0.75}]}}
    verdicts = {c["id"]: (c["met"], c["measured"]) for c in gpu_proofs.claims(doc)}
    assert verdicts["gpu_tests"][0] is False and "1 failed" in verdicts["gpu_tests"][1]
    assert verdicts["qlora_memory"] == (True, "12.50 GiB (plain recipe n/a GiB)")
    assert verdicts["qlora_speed"][0] is False and verdicts["qlora_speed"][1].startswith("2.40x")
    assert verdicts["plan_qlora_fcdata"][0] is True and verdicts["plan_qlora_plain"][0] is False
    assert verdicts["synth_accuracy"][0] is False and "best learning-curve point 75.0%" in verdicts["synth_accuracy"][1]
    assert verdicts["packing_vs_padded_max"] == (None, "not run")
    table = "\n".join(gpu_proofs.claims_table({**doc, "claims": gpu_proofs.claims(doc)}))
    assert "**NOT met**" in table and "| met |" in table


def test_readme_gpu_section_matches_the_committed_json() -> None:
    assert gpu_proofs.sync_readme(gpu_proofs.RESULTS_JSON, gpu_proofs.README, check=True) == 0
    text = Path(gpu_proofs.README).read_text(encoding="utf-8")
    if not os.path.exists(gpu_proofs.RESULTS_JSON):
        assert "**No GPU run yet**" in text
    else:
        doc = json.loads(Path(gpu_proofs.RESULTS_JSON).read_text(encoding="utf-8"))
        assert doc["mode"] == "gpu" and doc["device"] in text and doc["date"] in text and doc["command"] in text


def test_readme_follows_a_gpu_run_and_refuses_a_smoke_run(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{gpu_proofs.readme_section(None)}\n\nafter\n", encoding="utf-8")
    gpu = _gpu_doc(
        tests={"passed": 9, "failed": 0, "error": 0, "skipped": 4},
        packing={"attention": "sdpa", "dtype": "bfloat16", "results": [
            {"mode": "padded-max", "trained_tokens_per_s": 1000.0, "padding_waste": 0.89},
            {"mode": "padded", "trained_tokens_per_s": 3000.0, "padding_waste": 0.25},
            {"mode": "packed", "trained_tokens_per_s": 5200.0, "padding_waste": 0.012}]},
    )  # fmt: skip
    gpu["claims"] = gpu_proofs.claims(gpu)
    smoke_json, gpu_json = tmp_path / "smoke.json", tmp_path / "gpu.json"
    smoke_json.write_text(json.dumps({**gpu, "mode": "smoke"}), encoding="utf-8")
    gpu_json.write_text(json.dumps(gpu), encoding="utf-8")
    assert gpu_proofs.sync_readme(str(smoke_json), str(readme), check=False) == 2
    assert gpu_proofs.sync_readme(str(gpu_json), str(readme), check=True) == 1  # stale
    assert gpu_proofs.sync_readme(str(gpu_json), str(readme), check=False) == 0
    assert gpu_proofs.sync_readme(str(gpu_json), str(readme), check=True) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# x\n\n") and text.endswith("\n\nafter\n")
    assert "Last run: NVIDIA H200, 2030-01-01, `bash benchmarks/gpu_proofs.sh`" in text
    assert "5.20x (5,200 vs 1,000 trained tokens/s; padding 1.2% vs 89.0%; sdpa, bfloat16)" in text
    assert "| 9 passed, 0 failed, 0 errors, 4 skipped | met |" in text
    assert all(c["measured"].replace("|", "\\|") in text for c in gpu["claims"])


def test_merge_puts_a_rerun_part_in_place_of_the_first(tmp_path) -> None:
    first = _gpu_doc(tests={"passed": 9, "failed": 0, "error": 0, "skipped": 0})
    first["parts"]["synth"] = {"status": "stopped", "error": "x", "figures": {}}
    rerun = _gpu_doc(synth={"after_accuracy": 0.95})
    rerun["command"] = "bash benchmarks/gpu_proofs.sh --parts synth --budget 150"
    (tmp_path / "a.json").write_text(json.dumps(first), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(rerun), encoding="utf-8")
    assert gpu_proofs.merge(str(tmp_path / "a.json"), str(tmp_path / "b.json"), str(tmp_path / "m.json")) == 0
    merged = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert merged["parts"]["synth"]["status"] == "ok" and merged["parts"]["tests"]["figures"]["passed"] == 9
    assert merged["command"].endswith("then bash benchmarks/gpu_proofs.sh --parts synth --budget 150")


def test_help_and_the_script_give_the_device_call(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        gpu_proofs.main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    call = gpu_proofs.DEVICE_CALL
    assert f"command: {call['command']}" in text and 'carry: [".whl"]' in text and f"timeout_s: {call['timeout_s']}" in text
    assert "wheels.sh" in text and "gpu_proofs.py readme" in text
    script = (ROOT / "benchmarks" / "gpu_proofs.sh").read_text(encoding="utf-8")
    assert f'command "{call["command"]}"   carry [".whl"]   timeout_s {call["timeout_s"]}' in script
    assert f'command "{gpu_proofs.RERUN_CALL["command"]}"' in script
    assert len(call["command"]) < 2000 and call["timeout_s"] <= 600
    # the run's worst case (budget + stopping the last part) fits inside the call's timeout
    assert gpu_proofs.DEFAULT_BUDGET_S + gpu_proofs.KILL_GRACE_S < call["timeout_s"]


def test_size_counts_the_tree_the_device_tool_sends() -> None:
    try:
        tree, wheels = gpu_proofs.tree_size(str(ROOT))
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert 0 < tree < gpu_proofs.DEVICE_LIMIT_BYTES and wheels >= 0


class _Item:
    def __init__(self, gpu: bool) -> None:
        self.gpu, self.markers = gpu, []

    def get_closest_marker(self, name: str) -> Any:
        return object() if (name == "gpu" and self.gpu) else None

    def add_marker(self, marker: Any) -> None:
        self.markers.append(marker)


def test_gpu_tests_skip_only_when_torch_imports_and_reports_no_cuda(monkeypatch) -> None:
    import conftest
    import torch

    items = [_Item(gpu=True), _Item(gpu=False)]
    monkeypatch.delenv("FCDATA_REQUIRE_GPU", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    conftest.pytest_collection_modifyitems(None, items)  # type: ignore[arg-type]
    assert len(items[0].markers) == 1 and "needs a CUDA GPU" in items[0].markers[0].kwargs["reason"] and not items[1].markers
    monkeypatch.setenv("FCDATA_REQUIRE_GPU", "1")  # on the GPU machine: no CUDA is a failure
    with pytest.raises(pytest.UsageError, match="no CUDA GPU is usable"):
        conftest.pytest_collection_modifyitems(None, [_Item(gpu=True)])  # type: ignore[arg-type]
    monkeypatch.delenv("FCDATA_REQUIRE_GPU")
    monkeypatch.setitem(sys.modules, "torch", None)  # a broken install: `import torch` raises
    with pytest.raises(pytest.UsageError, match="torch cannot be imported"):
        conftest.pytest_collection_modifyitems(None, [_Item(gpu=True)])  # type: ignore[arg-type]
    conftest.pytest_collection_modifyitems(None, [_Item(gpu=False)])  # type: ignore[arg-type]  # no GPU test: torch not needed
