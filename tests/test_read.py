"""The streaming reader: every container, bad input as items (never exceptions), stdin."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcdata.errors import InputError
from fcdata.read import NOT_PARSED, detect_container, read_items
from fcdata.write import write_parquet


def lines(path: Path) -> list[tuple[int, Any, str | None]]:
    return [(i.line, i.value if i.ok else NOT_PARSED, i.code) for i in read_items(path)]


def test_jsonl_with_blank_and_bad_lines(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b'{"a": 1}\n\n  \nnot json\n\xff\xfe\n[1, 2]\n{"x": NaN}\n{"cut": ')
    got = lines(p)
    assert [g[0] for g in got] == [1, 4, 5, 6, 7, 8]
    assert got[0][1] == {"a": 1} and got[3][1] == [1, 2]
    assert [g[2] for g in got] == [None, "not_json", "not_utf8", None, "not_json", "truncated_file"]
    bad = list(read_items(p))[2]
    assert bad.verbatim() == "\ufffd\ufffd"


def test_jsonl_keeps_verbatim_text_and_strips_bom(tmp_path: Path) -> None:
    p = tmp_path / "b.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"k": "v",  "n": 1}\r\n')
    (item,) = read_items(p)
    assert item.value == {"k": "v", "n": 1}
    assert item.verbatim() == '{"k": "v",  "n": 1}'


def test_json_array_elements_with_lines(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text('[\n {"a": 1},\n {"b":\n  2}, 3.5 ,"s"\n]\n')
    assert lines(p) == [(2, {"a": 1}, None), (3, {"b": 2}, None), (4, 3.5, None), (4, "s", None)]


def test_json_array_of_turns_is_one_conversation(tmp_path: Path) -> None:
    """A JSON document that is one array of turns (data-genie's files) is one record; an array of records,
    or turns followed by a record, still streams element by element."""
    turns = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]
    p = tmp_path / "t.json"
    p.write_text("[\n" + ",\n".join(json.dumps(t) for t in turns) + "\n]\n")
    assert lines(p) == [(2, turns, None)]
    p.write_text(json.dumps(turns + [{"messages": []}], indent=1))
    got = lines(p)
    assert [g[1] for g in got] == [turns[0], turns[1], {"messages": []}] and [g[0] for g in got] == [2, 6, 10]
    p.write_text(json.dumps([{"messages": []}, turns[0]]))
    assert [g[1] for g in lines(p)] == [{"messages": []}, turns[0]]
    p.write_text("[]")
    assert lines(p) == []


def test_truncated_array_reports_and_stops(tmp_path: Path) -> None:
    p = tmp_path / "d.json"
    p.write_text('[{"a": 1}, {"b": ')
    got = lines(p)
    assert got[0] == (1, {"a": 1}, None)
    assert got[1][2] == "truncated_file" and len(got) == 2


def test_pretty_printed_single_object(shared_data: Path) -> None:
    (item,) = read_items(shared_data / "messages" / "functionary_tests" / "test_case.json")
    assert item.ok and set(item.value) == {"tools", "messages"}


def test_jsonl_named_json_as_bfcl_ships_it(shared_data: Path) -> None:
    items = list(read_items(shared_data / "bfcl" / "BFCL_v3_simple.json"))
    assert len(items) == 400 and all(i.ok for i in items)
    assert [i.line for i in items[:3]] == [1, 2, 3]


def test_large_array_in_small_chunks_with_multibyte_text(tmp_path: Path) -> None:
    from fcdata.read import _read_json_document

    data = [{"k": i, "s": "é€😀" * (i % 7)} for i in range(500)]
    p = tmp_path / "e.json"
    p.write_text(json.dumps(data, ensure_ascii=False))
    with open(p, "rb") as fh:
        got = [i.value for i in _read_json_document(fh, "e", chunk_size=5)]
    assert got == data


def test_gzip(tmp_path: Path) -> None:
    p = tmp_path / "f.jsonl.gz"
    with gzip.open(p, "wt") as fh:
        fh.write('{"z": 1}\n{"y": 2}\n')
    assert [i.value for i in read_items(p)] == [{"z": 1}, {"y": 2}]


def test_truncated_gzip_is_an_item(tmp_path: Path) -> None:
    p = tmp_path / "g.jsonl.gz"
    blob = gzip.compress(b'{"z": 1}\n' * 1000)
    p.write_bytes(blob[: len(blob) // 2])
    items = list(read_items(p))
    assert items[-1].code == "truncated_file"


def test_parquet_round_trip_decodes_nested_json(tmp_path: Path) -> None:
    rows = [{"messages": [{"role": "user", "content": "hi"}], "tools": [], "metadata": {"k": 1}}, {"messages": [], "tools": [{"type": "function"}], "metadata": None}]
    p = tmp_path / "h.parquet"
    write_parquet(p, rows)
    got = [i.value for i in read_items(p)]
    assert got[0] == rows[0]
    assert got[1]["tools"] == [{"type": "function"}]


def test_not_parquet_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "i.parquet"
    p.write_text("nope")
    with pytest.raises(InputError, match="i.parquet: not a readable Parquet file"):
        list(read_items(p))


def test_parquet_is_known_by_its_content_on_stdin_under_any_name_and_gzipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parquet piped in (`cat x.parquet | fcdata convert -`), saved without its extension or gzipped is
    read as Parquet; it used to be read as text lines and every line rejected as not UTF-8."""
    rows = [{"messages": [{"role": "user", "content": "hi"}], "tools": [], "metadata": {"k": i}} for i in range(3)]
    p = tmp_path / "h.parquet"
    write_parquet(p, rows)
    blob = p.read_bytes()
    (tmp_path / "h.bin").write_bytes(blob)
    (tmp_path / "h.bin.gz").write_bytes(gzip.compress(blob))
    for path in (tmp_path / "h.bin", tmp_path / "h.bin.gz"):
        assert [i.value for i in read_items(path)] == rows, path

    class FakeStdin:
        buffer = io.BufferedReader(io.BytesIO(blob))  # type: ignore[arg-type]

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    items = list(read_items("-"))
    assert [i.value for i in items] == rows and {i.file for i in items} == {"<stdin>"}

    class CutStdin:
        buffer = io.BufferedReader(io.BytesIO(blob[:-20]))  # type: ignore[arg-type]

    monkeypatch.setattr(sys, "stdin", CutStdin)
    with pytest.raises(InputError, match="<stdin>: not a readable Parquet file"):
        list(read_items("-"))


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        list(read_items(tmp_path / "missing.jsonl"))


def test_dataset_directory(tmp_path: Path) -> None:
    import datasets

    datasets.Dataset.from_list([{"text": "a"}, {"text": "b"}]).save_to_disk(str(tmp_path / "ds"))
    assert [i.value for i in read_items(tmp_path / "ds")] == [{"text": "a"}, {"text": "b"}]
    with pytest.raises(InputError, match="not a Hugging Face dataset"):
        list(read_items(tmp_path))


@pytest.mark.parametrize("payload,expected", [(b'[{"q": 1}, {"q": 2}]', [{"q": 1}, {"q": 2}]), (b'{"q": 1}\n{"q": 2}\n', [{"q": 1}, {"q": 2}]), (b'{\n  "q": 1\n}\n', [{"q": 1}])])
def test_stdin(monkeypatch: pytest.MonkeyPatch, payload: bytes, expected: list[Any]) -> None:
    class FakeStdin:
        buffer = io.BytesIO(payload)

    monkeypatch.setattr(sys, "stdin", FakeStdin)
    assert [i.value for i in read_items("-")] == expected


def test_jsonl_named_json_goes_on_after_a_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "lines.json"
    p.write_text('{"id": 1}\n{"id": \n{"id": 3}\n')
    assert [(i.line, i.code) for i in read_items(p)] == [(1, None), (2, "not_json"), (3, None)]


def test_detect_container() -> None:
    assert detect_container("x.jsonl", b"[") == "jsonl"
    assert detect_container("x.json", b"{\n") == "json"
    assert detect_container("x.json", b'{"a": 1}\n{"a"') == "jsonl"
    assert detect_container("-", b"  [1]") == "json"
    assert detect_container("-", b'{"a": 1}\n') == "jsonl"
    assert detect_container("x.parquet.gz", b"") == "parquet"


@given(st.lists(st.sampled_from([b'{"a": 1}', b'{"b": "\xff"}', b'{"c": "\xc3"}', b"\xe2\x82", b'{"d": "\xe2\x82\xac"}', b"[1]"]), max_size=8), st.integers(1, 9))
def test_bad_bytes_in_a_json_array_cost_only_their_element(elements: list[bytes], chunk: int) -> None:
    """Every element of an array is read, whatever bytes another holds and wherever chunks are cut."""
    import io

    from fcdata.read import _read_json_document

    data = b"[" + b",\n".join(elements) + b"]"
    items = list(_read_json_document(io.BufferedReader(io.BytesIO(data)), "x.json", chunk_size=chunk))
    expected = []
    for e in elements:
        try:
            expected.append(json.loads(e.decode("utf-8")))
        except UnicodeDecodeError:
            expected.append(None)
    # a bare bad byte between values is a malformed element (not_json), reported with its neighbour
    if all(e.startswith((b"{", b"[")) for e in elements):
        assert [i.value if i.ok else None for i in items] == expected
        assert all(i.ok or i.code == "not_utf8" for i in items)
    else:
        assert all(i.ok or i.code in ("not_utf8", "not_json") for i in items)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(tmp_path_factory: Any, blob: bytes) -> None:
    d = tmp_path_factory.mktemp("fuzz")
    for name in ("x.jsonl", "x.json", "x.jsonl.gz"):
        p = d / name
        p.write_bytes(gzip.compress(blob) if name.endswith(".gz") else blob)
        try:
            for item in read_items(p):
                assert item.ok or item.error
        except InputError as exc:  # the only whole-file refusals: content that is not UTF-8 JSON text
            assert any(w in str(exc) for w in ("UTF-16", "UTF-32", "lone CR", "Arrow IPC")), exc


def test_deep_nesting_is_an_item(tmp_path: Path) -> None:
    p = tmp_path / "deep.jsonl"
    p.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    (item,) = read_items(p)
    assert item.code == "json_too_deep"


def test_fifty_megabyte_line(tmp_path: Path) -> None:
    p = tmp_path / "big.jsonl"
    big = "x" * (50 * 1024 * 1024)
    p.write_text('{"text": "' + big + '"}\n{"text": "small"}\n')
    items = list(read_items(p))
    assert len(items[0].value["text"]) == len(big) and items[1].value == {"text": "small"}


def test_bad_array_element_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('[{"text": "a"},\n{bad},\n{"text": "b"},\n{"text": "c"}]')
    got = [(i.line, i.value if i.ok else None, i.code) for i in read_items(p)]
    assert got == [(1, {"text": "a"}, None), (2, None, "not_json"), (3, {"text": "b"}, None), (4, {"text": "c"}, None)]


def test_bad_pretty_printed_value_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    p = tmp_path / "y.json"
    p.write_text('{\n "a": 1\n}\n{\n "b": \n}\n{\n "c": 3\n}\n')
    assert [(i.line, i.code) for i in read_items(p)] == [(1, None), (4, "not_json"), (7, None)]


def test_malformed_element_does_not_load_the_rest_of_the_file(tmp_path: Path) -> None:
    from fcdata.read import _read_json_document

    class Counting:
        def __init__(self, data: bytes) -> None:
            self.stream = io.BytesIO(data)
            self.read_bytes = 0

        def read(self, n: int) -> bytes:
            chunk = self.stream.read(n)
            self.read_bytes += len(chunk)
            return chunk

    data = b'[{"a": 1}, {bad}, ' + b", ".join(b'{"k": %d}' % i for i in range(20000)) + b"]"
    src = Counting(data)
    items = _read_json_document(src, "big", chunk_size=4096)  # type: ignore[arg-type]
    assert next(items).ok and next(items).code == "not_json"
    assert src.read_bytes <= 3 * 4096  # resynchronised within the buffer, not after reading everything
    assert sum(1 for i in items if i.ok) == 20000


def test_jsonl_cut_off_inside_its_last_record_is_truncated_file(tmp_path: Path) -> None:
    p = tmp_path / "cut.jsonl"
    p.write_bytes(b'{"a": 1}\n{"messages": [{"role": "us')
    items = list(read_items(p))
    assert [i.code for i in items] == [None, "truncated_file"]
    # a complete but malformed last line is still just not JSON
    p.write_bytes(b'{"a": 1}\nhello')
    assert [i.code for i in read_items(p)] == [None, "not_json"]


# ------------------------------------------------------------------ orjson fast path = standard library

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# number spellings json.dumps never writes: long mantissas, exponents, values past double range
_NUMBER_TEXT = st.from_regex(r"\A-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?\Z")


def _exact(value: Any) -> str:
    """A value's exact identity: types (1 vs 1.0 vs True), every float bit, key order."""
    return json.dumps(value)


def _standard(raw: bytes) -> Any:
    from fcdata.read import loads_strict

    try:
        return loads_strict(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return NOT_PARSED


@given(_JSON_VALUES, st.booleans())
def test_fast_loads_gives_the_standard_library_value_or_gives_way(value: Any, ascii_only: bool) -> None:
    from fcdata.read import fast_loads

    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    fast = fast_loads(raw)
    if fast is not NOT_PARSED:
        assert _exact(fast) == _exact(_standard(raw))


@given(_NUMBER_TEXT, st.sampled_from(['{"a": %s}', "[%s]", "%s", '{"s": "x", "n": %s}']))
def test_fast_loads_reads_numbers_exactly_or_gives_way(number: str, shape: str) -> None:
    from fcdata.read import fast_loads

    raw = (shape % number).encode()
    fast = fast_loads(raw)
    if fast is not NOT_PARSED:
        assert _exact(fast) == _exact(_standard(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"n": 18446744073709551616}',  # past 64 bits: orjson would give a float
        b'{"n": -9223372036854775809}',
        b'[123456789012345678901234567890]',
        b'{"n": 1e400}',  # past double range: json gives inf
        b'{"n": NaN}',
        b'{"s": "\\ud800"}',  # a lone surrogate escape
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b"[" * 2000 + b"]" * 2000,
        b'{"a": 1, "a": 2}',
    ],
)
def test_fast_loads_gives_way_or_agrees_on_what_orjson_reads_differently(raw: bytes) -> None:
    from fcdata.read import fast_loads

    fast = fast_loads(raw)
    standard = _standard(raw)
    assert fast is NOT_PARSED or _exact(fast) == _exact(standard)
    if raw.startswith((b'{"n": 1', b'{"n": -', b"[1")):
        assert fast is NOT_PARSED  # these would be read differently


def test_items_from_the_fast_path_equal_the_standard_ones(tmp_path: Path) -> None:
    from fcdata.read import Item, item_from_line

    raw = '{"system": "é", "chat": "USER: hi"}\r\n'.encode()
    item = item_from_line("f.jsonl", 3, raw)
    assert item == Item("f.jsonl", 3, {"system": "é", "chat": "USER: hi"}, '{"system": "é", "chat": "USER: hi"}')
    assert item.text == '{"system": "é", "chat": "USER: hi"}' and item.ok
    assert "text=" in repr(item)
    with pytest.raises(TypeError):
        hash(item)  # a plain mutable class (nothing hashes items)


def test_nesting_json_cannot_decode_stays_json_too_deep_though_orjson_could() -> None:
    from fcdata.read import fast_loads, item_from_line

    raw = ('{"metadata": {"a": ' + "[" * 1000 + "]" * 1000 + "}}\n").encode()
    assert fast_loads(raw) is NOT_PARSED
    assert item_from_line("f.jsonl", 1, raw).code == "json_too_deep"


# ----------------------------------------------------------------- JSON documents: chunks, resync, concatenation

_SHAREGPT_DEMO = Path(__file__).parent / "fixtures" / "shared" / "sharegpt" / "glaive_toolcall_en_demo.json"


def _doc_items(data: bytes, chunk_size: int) -> list[tuple[int, Any, str | None]]:
    from fcdata.read import _read_json_document

    return [(i.line, i.value if i.ok else i.code, i.code) for i in _read_json_document(io.BytesIO(data), "doc.json", chunk_size)]


def test_every_chunk_boundary_reads_the_same_records() -> None:
    """A chunk that ended inside `true`, a `\\u00e9` escape or a number's exponent made a valid element
    `not_json`, and the resynchronisation after it lost most of the file (2,553 of 3,000 records of a
    7 MB array written by `json.dump(indent=2)`, exit 0)."""
    rows = json.loads(_SHAREGPT_DEMO.read_text(encoding="utf-8"))[:3]  # real rows (LLaMA-Factory's demo)
    rows.append({"flags": [True, False, None], "x": -1.5e-7, "big": 12345678901234567890, "s": "naïve – 日本"})
    data = json.dumps(rows, indent=2).encode()  # ensure_ascii: every non-ASCII character an escape
    expected = _doc_items(data, 1 << 20)
    assert [v for _, v, _ in expected] == rows
    for size in range(1, 400):
        assert _doc_items(data, size) == expected, size


def test_a_malformed_array_element_is_skipped_whole() -> None:
    """The next element used to be found by `, {` or `, [`, which matched inside the bad element's own
    nested lists: its inner objects became records and the good elements after it were lost."""
    rows = json.loads(_SHAREGPT_DEMO.read_text(encoding="utf-8"))[:4]
    text = json.dumps(rows, indent=2)
    bad_at = text.index('"from"', text.index('"conversations"', text.index("},\n  {") + 1))
    broken = text[:bad_at] + "from" + text[bad_at + len('"from"') :]  # element 2: an unquoted key
    items = _doc_items(broken.encode(), 1 << 20)
    assert [v if c is None else c for _, v, c in items] == [rows[0], "not_json", rows[2], rows[3]]
    from fcdata.read import _read_json_document

    [bad] = [i for i in _read_json_document(io.BytesIO(broken.encode()), "doc.json") if not i.ok]
    assert json.loads(bad.text.replace("from", '"from"', 1)) == rows[1]  # the rejects file gets the element


def test_concatenated_arrays_and_nan_in_a_document() -> None:
    """`cat a.json b.json`: everything after the first array's `]` was one `not_json` reject (its
    records lost); a `NaN` in an element was taken for a cut-off file and the rest dropped."""
    rows = json.loads(_SHAREGPT_DEMO.read_text(encoding="utf-8"))[:3]
    one = json.dumps(rows, indent=2)
    items = _doc_items((one + "\n" + one + "\n").encode(), 1 << 20)
    assert [v for _, v, _ in items] == rows + rows
    assert [line for line, _, _ in items][3] == one.count("\n") + 3  # the second array opens on the line after the first one ends
    nan = one.replace('"from": "human"', '"from": NaN', 1)
    items = _doc_items(nan.encode(), 1 << 20)
    assert [c for _, _, c in items] == ["not_json", None, None]
    # a JSON Lines stream of turn lists read from stdin (detected as a document): one record per line
    lines = "".join(json.dumps(r["conversations"]) + "\n" for r in rows)
    assert [v for _, v, _ in _doc_items(lines.encode(), 1 << 20)] == [r["conversations"] for r in rows]


def test_nested_parquet_and_datasets_columns_do_not_invent_null_keys(tmp_path: Path) -> None:
    """Records saved with native nested columns (`pa.Table.from_pylist`, `Dataset.from_list`): Arrow
    gives every object the union of the keys of all rows, the missing ones null; those came back as
    arguments nobody gave (`"refundable": null, "page": null, ...`) and validate passed them."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fcdata.convert import convert_records

    demo = json.loads(_SHAREGPT_DEMO.read_text(encoding="utf-8"))[:40]  # real rows, converted
    records = [o.record for o in convert_records(demo) if o.ok]
    for r in records:
        r.pop("metadata")
    assert len({json.dumps(sorted(c["function"]["arguments"])) for r in records for m in r["messages"] for c in m.get("tool_calls", [])}) > 1
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "nested.parquet")
    datasets.Dataset.from_list(records).save_to_disk(str(tmp_path / "ds"))
    for path in (tmp_path / "nested.parquet", tmp_path / "ds"):
        got = [i.value for i in read_items(str(path))]
        assert got == records, path


def test_files_that_are_not_utf8_json_text_are_refused_whole(tmp_path: Path) -> None:
    """UTF-16 text, lone-CR line endings and an Arrow shard were read as UTF-8 JSON Lines: one record
    became several unreadable ones (or five became one) and the counts said nothing true. Each is one
    clear error naming the fix; a DatasetDict folder names a split to pass."""
    import datasets

    rows = json.loads(_SHAREGPT_DEMO.read_text(encoding="utf-8"))[:3]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (tmp_path / "u16.jsonl").write_bytes(text.encode("utf-16"))
    (tmp_path / "cr.jsonl").write_bytes(text.replace("\n", "\r").encode())
    ds = datasets.Dataset.from_list([{"conversations": json.dumps(r["conversations"])} for r in rows])
    ds.save_to_disk(str(tmp_path / "ds"))
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dd"))
    shard = next((tmp_path / "ds").glob("*.arrow"))
    for path, words in ((tmp_path / "u16.jsonl", "UTF-16"), (tmp_path / "cr.jsonl", "lone CR"), (shard, "Arrow IPC"), (tmp_path / "dd", "dd/train")):
        with pytest.raises(InputError, match=words):
            list(read_items(str(path)))
    assert [i.value["conversations"] for i in read_items(str(tmp_path / "dd" / "train"))] == [r["conversations"] for r in rows]


def test_malformed_elements_of_every_kind_lose_nothing_after_them() -> None:
    """A review's cases after the bracket-depth resync: an element missing a `}` or `]` (the scan never
    closed it: everything after it lost, exit 0), NaN with another error in one element (taken for a
    cut-off file), NaN in a sequence of values (the next record skipped), an element nested too deeply
    for `json` (reading stopped), a number cut at a chunk boundary (one element read as two)."""
    rows = json.loads(_SHAREGPT_DEMO.read_text(encoding="utf-8"))[:4]
    elems = [json.dumps(r, indent=2) for r in rows]

    def doc(bad: str) -> bytes:
        return ("[\n" + ",\n".join([elems[0], bad, elems[2], elems[3]]) + "\n]\n").encode()

    cases = {
        "missing }": elems[1][: elems[1].rstrip().rfind("}")],
        "missing ]": elems[1].replace("\n    }\n  ],", "\n    }\n  ,", 1),
        "NaN and more": elems[1].replace('"human"', "NaN, ", 1),
        "too deep": elems[1].replace('"tools"', '"deep": ' + "[" * 5000 + "]" * 5000 + ', "tools"', 1),
    }
    for name, bad in cases.items():
        assert bad != elems[1], name
        items = _doc_items(doc(bad), 1 << 20)
        assert [v if c is None else "bad" for _, v, c in items] == [rows[0], "bad", rows[2], rows[3]], name
    seq = "\n".join([elems[0], elems[1].replace('"human"', "NaN", 1), elems[2]]).encode()
    assert [v if c is None else "bad" for _, v, c in _doc_items(seq, 1 << 20)] == [rows[0], "bad", rows[2]]
    for size in range(1, 12):
        assert [v for _, v, _ in _doc_items(b'[1.5e-7, 12345, {"c": 1}]', size)] == [1.5e-7, 12345, {"c": 1}], size


def test_a_long_first_line_with_cr_whitespace_is_not_taken_for_lone_cr_endings(tmp_path: Path) -> None:
    rows = json.loads(_SHAREGPT_DEMO.read_text(encoding="utf-8"))[:3]
    first = json.dumps({**rows[0], "pad": "x" * 70_000}).replace(', "', ',\r"')
    path = tmp_path / "long.jsonl"
    path.write_text(first + "\n" + "".join(json.dumps(r) + "\n" for r in rows[1:]))
    assert [i.ok for i in read_items(path)] == [True, True, True]
