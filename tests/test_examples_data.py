"""Every data file in examples/ converts without a rejection, and what it converts to validates clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from fcdata.convert import Converted, convert_records
from fcdata.read import read_items
from fcdata.validate import check_record

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.jsonl")), ids=lambda p: p.name)
def test_example_converts_and_validates(path: Path) -> None:
    outs = list(convert_records(read_items(path)))
    assert outs and all(isinstance(o, Converted) for o in outs), [o for o in outs if not isinstance(o, Converted)][:3]
    for o in outs:
        errors = [str(f) for f in check_record(o.record)[1] if f.severity == "error"]
        assert errors == []
