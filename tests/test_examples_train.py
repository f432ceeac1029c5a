"""Smoke runs of examples/train_hf_trainer.py and examples/train_trl_sft.py: two optimizer steps of a tiny
random Mistral on the CPU, on prepared data rendered from real Glaive records (tests/fixtures/shared)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
GLAIVE = ROOT / "tests" / "fixtures" / "shared" / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl"


def load_example(name: str) -> ModuleType:
    path = ROOT / "examples" / f"{name}.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A prepared data set in the `fcdata prepare` layout (docs/architecture.md), built from real records
    through fcdata's converter and renderer."""
    import datasets

    from fcdata.convert import Converted, convert_records
    from fcdata.read import read_items
    from fcdata.render import render_records

    datasets.disable_progress_bars()
    records = [out.record for out in convert_records(read_items(str(GLAIVE))) if isinstance(out, Converted)]
    rows = []
    for index, (record, rendered) in enumerate(zip(records, render_records(records))):
        assert not isinstance(rendered, Exception), rendered
        for sample in rendered.samples:
            rows.append(
                {
                    "input_ids": sample.input_ids,
                    "assistant_masks": sample.assistant_masks,
                    "labels": sample.labels,
                    "length": sample.length,
                    "num_trained": sample.num_trained,
                    "source_file": str(record["metadata"].get("source_file", GLAIVE.name)),
                    "source_line": int(record["metadata"].get("source_line", index + 1)),
                    "record_index": index,
                    "sample_index": sample.sample_index,
                }
            )
    assert len(rows) >= 50
    path = tmp_path_factory.mktemp("prepared") / "data"
    datasets.Dataset.from_list(rows).save_to_disk(str(path))
    return str(path)


@pytest.mark.parametrize(
    "example, extra",
    [
        ("train_hf_trainer", ["--batching", "packed"]),
        ("train_hf_trainer", ["--batching", "padded", "--batch-size", "2"]),
        ("train_trl_sft", ["--batching", "packed", "--lora"]),
    ],
)
def test_example_trains_two_steps(prepared: str, tmp_path: Path, example: str, extra: list[str]) -> None:
    module = load_example(example)
    summary = module.main([prepared, "--tiny", "--max-steps", "2", "--max-length", "512", "--batch-size", "1", "-o", str(tmp_path / "run"), *extra])
    assert summary["steps"] == 2
    assert math.isfinite(summary["first_loss"]) and math.isfinite(summary["last_loss"])
    assert summary["first_loss"] == pytest.approx(math.log(32768), rel=0.05)  # a random model starts near ln(V)
    if "--batching" in extra and extra[extra.index("--batching") + 1] == "packed":
        assert summary["packing"]["packed_samples"] + summary["packing"]["dropped_samples"] == summary["packing"]["samples"]
        assert summary["packing"]["efficiency"] > 0.8


def test_example_needs_a_model(prepared: str, tmp_path: Path) -> None:
    module = load_example("train_hf_trainer")
    with pytest.raises(SystemExit) as exc:
        module.main([prepared, "-o", str(tmp_path)])
    assert exc.value.code == 2
