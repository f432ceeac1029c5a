"""Every data file in examples/ converts (the rejections are the ones expected, each with its reason),
and what it converts to validates clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from fcdata.convert import Converted, convert_records
from fcdata.read import read_items
from fcdata.validate import check_record

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


# file -> {line: rejection code}: the real data's own defects
EXPECTED_REJECTIONS = {
    # the call passes a list where the tool's own schema declares a number
    "sharegpt_sample.jsonl": {260: "arguments_schema"},
}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.jsonl")), ids=lambda p: p.name)
def test_example_converts_and_validates(path: Path) -> None:
    outs = list(convert_records(read_items(path)))
    rejected = {o.item.line: o.codes[0] for o in outs if not isinstance(o, Converted)}
    assert outs and rejected == EXPECTED_REJECTIONS.get(path.name, {})
    for o in outs:
        if not isinstance(o, Converted):
            continue
        errors = [str(f) for f in check_record(o.record)[1] if f.severity == "error"]
        assert errors == []
