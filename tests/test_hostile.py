"""Hostile input, as an attacker would write it: probes that must stay fixed (issue 17).

Tool schemas come from the data. A ``$ref`` must never make fcdata fetch a URL or open a file (nor echo
what it would read), a catastrophic ``pattern`` must never hang a run, and the work per record is
bounded. Text from the data must never inject an element into the HTML view nor a control sequence into
a terminal. The CLI commands run in a child process with a time limit, so that a regression fails the
test instead of hanging the suite, and with an audit hook that records every file opened and every
socket connected.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from fcdata.ecma_regex import PatternUnsupported, search
from fcdata.schema_check import clear_cache, schema_check
from fcdata.validate import check_record

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "tests" / "fixtures" / "shared"


# ------------------------------------------------------------------------------------------ harness

_CHILD = textwrap.dedent(
    """
    import json, sys
    watched = sys.argv[1]
    events = []

    def hook(event, args):
        if event == "open" and isinstance(args[0], str) and watched in args[0]:
            events.append(["open", args[0]])
        elif event == "socket.connect":
            events.append(["connect", repr(args[1])])

    sys.addaudithook(hook)
    from click.testing import CliRunner
    from fcdata.cli.main import cli

    results = []
    for argv in json.loads(sys.argv[2]):
        r = CliRunner().invoke(cli, argv)
        results.append({"argv": argv, "code": r.exit_code, "output": r.output, "exception": repr(r.exception) if r.exception and not isinstance(r.exception, SystemExit) else None})
    print(json.dumps({"results": results, "events": events}))
    """
)


def run_commands(commands: list[list[str]], watched: str, timeout: float = 120) -> dict[str, Any]:
    """Run fcdata commands in one child process (killed after ``timeout`` seconds: a hang fails the
    test); returns each command's exit code and output, and the audited opens of paths containing
    ``watched`` and socket connections."""
    proc = subprocess.run([sys.executable, "-c", _CHILD, watched, json.dumps(commands)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["stderr"] = proc.stderr
    return out


class Listener:
    """A TCP server on loopback that accepts connections and never answers (a host that hangs whoever
    asks it); ``connections`` counts what reached it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            self.held.append(conn)  # never read, never answered

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def record(parameters: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": "Look it up."},
            {"role": "assistant", "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "lookup", "arguments": arguments}}]},
            {"role": "tool", "tool_call_id": "abcDEF123", "content": "done"},
            {"role": "assistant", "content": "Done."},
        ],
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look something up", "parameters": parameters}}],
    }


def glaive_row(parameters: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """A real Glaive v2 row (the get_lyrics one of the shared sample) declaring ``parameters`` instead of
    its own and calling the function with ``arguments``."""
    rows = [json.loads(line) for line in (SHARED / "glaive_raw" / "glaive_v2_first500_singleturn.jsonl").read_text().splitlines()]
    row = next(r for r in rows if '"get_lyrics"' in r["system"] and "<functioncall>" in r["chat"])
    head, _, _ = row["system"].partition("-\n")
    decl = {"name": "get_lyrics", "description": "Get the lyrics of a song", "parameters": parameters}
    system = head + "-\n" + json.dumps(decl, indent=4) + "\n"
    call = json.dumps({"name": "get_lyrics", "arguments": "ARGS"}).replace('"ARGS"', "'" + json.dumps(arguments) + "'")
    chat = f"USER: The lyrics, please.\n\n\nASSISTANT: <functioncall> {call} <|endoftext|>\n\n\nFUNCTION RESPONSE: {{\"lyrics\": \"la la\"}}\n\n\nASSISTANT: Here they are: la la. <|endoftext|>"
    return {"system": system, "chat": chat}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def pipeline_commands(tmp: Path, canonical: str, glaive: str) -> list[list[str]]:
    """validate, convert (canonical and Glaive input) and prepare, each with every output it can write."""
    return [
        ["validate", canonical, "--report", str(tmp / "v_report.json"), "--rejects", str(tmp / "v_rejects.jsonl")],
        ["convert", canonical, "-o", str(tmp / "c_out.jsonl"), "--report", str(tmp / "c_report.json"), "--rejects", str(tmp / "c_rejects.jsonl")],
        ["convert", glaive, "-o", str(tmp / "g_out.jsonl"), "--report", str(tmp / "g_report.json"), "--rejects", str(tmp / "g_rejects.jsonl")],
        ["prepare", canonical, "-o", str(tmp / "p_out"), "--report", str(tmp / "p_report.json"), "--rejects", str(tmp / "p_rejects.jsonl")],
        ["prepare", glaive, "-o", str(tmp / "pg_out"), "--report", str(tmp / "pg_report.json"), "--rejects", str(tmp / "pg_rejects.jsonl")],
    ]


def every_output(tmp: Path, run: dict[str, Any]) -> str:
    """Everything the commands printed or wrote, as one text."""
    parts = [r["output"] for r in run["results"]] + [run["stderr"]]
    for f in sorted(tmp.rglob("*")):
        if f.is_file():
            parts.append(f.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


# ------------------------------------------------------------------------------------- $ref in schemas


def test_a_remote_ref_is_never_fetched_and_a_hanging_host_hangs_nothing(tmp_path: Path, listener: Listener) -> None:
    """Issue 17, security 1: the ref points at a loopback host that accepts and never answers. Before
    the fix every command connected (jsonschema's deprecated resolver fetched it) and hung."""
    url = f"http://127.0.0.1:{listener.port}/x"
    params = {"type": "object", "properties": {"q": {"$ref": url}}}
    canonical = write_jsonl(tmp_path / "in.jsonl", [record(params, {"q": "x"})])
    glaive = write_jsonl(tmp_path / "glaive.jsonl", [glaive_row(params, {"q": "x"})])
    start = time.monotonic()
    run = run_commands(pipeline_commands(tmp_path, canonical, glaive), watched="/nonexistent-watch", timeout=120)
    assert listener.connections == 0
    assert run["events"] == []  # no socket was even opened towards it
    assert all(r["exception"] is None for r in run["results"]), run["results"]
    validate, convert, convert_glaive, prepare, prepare_glaive = run["results"]
    assert validate["code"] == 1 and "error[schema_unusable]" in validate["output"] and "points outside the schema" in validate["output"]
    for rejects in ("c_rejects.jsonl", "g_rejects.jsonl", "p_rejects.jsonl", "pg_rejects.jsonl"):
        lines = (tmp_path / rejects).read_text().splitlines()
        assert len(lines) == 1 and "points outside the schema" in lines[0], rejects
    assert time.monotonic() - start < 110


@pytest.mark.parametrize("ref_form", ["{url}", "{url}#/nope", "{url}#/enum"])
def test_a_file_ref_is_never_opened_nor_echoed(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, ref_form: str) -> None:
    """Issue 17, security 1: before the fix the secret file was opened and its contents appeared in the
    findings, the reports and the rejects (as the enum a value 'is not one of', or the JSON it could
    not resolve a pointer in)."""
    secret = tmp_path_factory.mktemp("secret") / "token.json"  # not under tmp_path, whose files are scanned
    secret.write_text(json.dumps({"type": "string", "enum": ["TOPSECRET-3f9c2e"]}))
    ref = ref_form.format(url=secret.as_uri())
    params = {"type": "object", "properties": {"q": {"$ref": ref}}, "required": ["q"]}
    canonical = write_jsonl(tmp_path / "in.jsonl", [record(params, {"q": 7})])
    glaive = write_jsonl(tmp_path / "glaive.jsonl", [glaive_row(params, {"q": 7})])
    run = run_commands(pipeline_commands(tmp_path, canonical, glaive), watched="token.json")
    assert "TOPSECRET" not in every_output(tmp_path, run)
    assert run["events"] == [], run["events"]  # the file was never opened
    assert all(r["exception"] is None for r in run["results"]), run["results"]
    assert "schema_unusable" in run["results"][0]["output"]


def test_refs_inside_the_schema_still_resolve() -> None:
    params = {
        "type": "object",
        "definitions": {"unit": {"enum": ["c", "f"]}},
        "$defs": {"city": {"type": "string", "minLength": 1}},
        "properties": {"unit": {"$ref": "#/definitions/unit"}, "city": {"$ref": "#/$defs/city"}},
    }
    check = schema_check(json.dumps(params))
    assert check.unusable is None and check.problem is None
    assert check.is_valid({"unit": "c", "city": "Oslo"}) is True
    assert check.is_valid({"unit": "k"}) is False
    assert check.is_valid({"city": ""}) is False


@pytest.mark.parametrize("ref", ["other.json#/x", "//example.invalid/s", "urn:x:y", "file:///etc/hostname"])
def test_every_ref_that_leaves_the_schema_is_unusable_without_being_run(ref: str) -> None:
    check = schema_check(json.dumps({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"$ref": ref}}}}}))
    assert check.unusable is not None and ref in check.unusable
    assert check.is_valid({}) is None  # no call is checked, even one that never reaches the $ref


def test_a_ref_reached_through_data_is_refused_at_run_time_too() -> None:
    """A fragment ref into an enum's data: the static walk does not see the inner $ref, the validator's
    registry refuses it when reached (no retrieval at all)."""
    params = {"type": "object", "properties": {"a": {"$ref": "#/properties/b/enum/0"}, "b": {"enum": [{"$ref": "file:///etc/hostname"}]}}}
    check = schema_check(json.dumps(params))
    assert check.unusable is None
    assert check.is_valid({"a": 1}) is None
    assert "file:///etc/hostname" in check.unusable_reason({"a": 1})


# ------------------------------------------------------------------------------------------ patterns

CATASTROPHIC = "^(a+)+$"
EVIL = "a" * 40 + "!"


def test_a_catastrophic_pattern_does_not_hang_any_command(tmp_path: Path) -> None:
    """Issue 17, security 2: ^(a+)+$ against 40 a's and '!' ran past 60 s in validate, convert and
    prepare (Python's re backtracks 2**40 ways); on RE2 it is linear, and the call is rejected as the
    pattern says. The pattern is tried as ``pattern`` and as a ``patternProperties`` key."""
    rows = [
        record({"type": "object", "properties": {"q": {"type": "string", "pattern": CATASTROPHIC}}}, {"q": EVIL}),
        record({"type": "object", "patternProperties": {CATASTROPHIC: {"type": "integer"}}, "additionalProperties": False}, {EVIL: 1}),
        record({"type": "object", "properties": {"q": {"anyOf": [{"pattern": CATASTROPHIC}, {"type": "integer"}]}}}, {"q": EVIL}),
    ]
    canonical = write_jsonl(tmp_path / "in.jsonl", rows)
    glaive = write_jsonl(tmp_path / "glaive.jsonl", [glaive_row({"type": "object", "properties": {"song": {"type": "string", "pattern": CATASTROPHIC}}}, {"song": EVIL})])
    start = time.monotonic()
    run = run_commands(pipeline_commands(tmp_path, canonical, glaive), watched="/nonexistent-watch", timeout=100)
    assert time.monotonic() - start < 90
    assert all(r["exception"] is None for r in run["results"]), run["results"]
    validate = run["results"][0]
    assert validate["code"] == 1 and validate["output"].count("error[arguments_schema]") == 3, validate["output"]
    assert json.loads((tmp_path / "c_report.json").read_text())["rejected"] == 3
    assert json.loads((tmp_path / "g_report.json").read_text())["rejected"] == 1
    assert json.loads((tmp_path / "p_report.json").read_text())["rejected"] == 3


def test_catastrophic_pattern_in_process_is_fast() -> None:
    """25 a's and '!': seconds per check on Python's re (so that a regression fails here rather than
    hanging the suite), microseconds on RE2; then a 100,000-character value, linear."""
    clear_cache()
    bad = "a" * 25 + "!"
    start = time.monotonic()
    for schema in (
        {"type": "object", "properties": {"q": {"type": "string", "pattern": CATASTROPHIC}}},  # the fast path
        {"type": "object", "properties": {"q": {"allOf": [{"pattern": CATASTROPHIC}]}}},  # jsonschema
        {"type": "object", "propertyNames": {"pattern": CATASTROPHIC}},
        {"type": "object", "patternProperties": {CATASTROPHIC: {"type": "integer"}}, "additionalProperties": False},
    ):
        check = schema_check(json.dumps(schema))
        key_schema = "propertyNames" in schema or "patternProperties" in schema
        assert check.errors({bad: 1} if key_schema else {"q": bad}) != []
        assert check.errors({"a" * 100_000: 1} if key_schema else {"q": "a" * 100_000}) == []
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    "pattern, reason",
    [
        ("^(?=a)", "lookaround"),
        ("(?<!x)y", "lookaround"),
        ("(a)\\1", "backreference"),
        ("(?<n>a)\\k<n>", "backreference"),
        ("(?i)abc", "inline flags"),
        ("a{1001}", "RE2 cannot run it"),
        ("\\u{1F600}", "four hexadecimal"),
        ("\\ud800", "lone surrogate"),
        ("\\q", "not an escape"),
        ("a**", "cannot follow a quantifier"),
        ("(ab", "without its ')'"),
        ("[b-a]", "out of order"),
    ],
)
def test_patterns_outside_ecma_or_re2_are_refused_with_a_reason(pattern: str, reason: str, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PatternUnsupported) as err:
        search(pattern, "abc")
    assert reason in err.value.reason
    assert capfd.readouterr().err == ""  # RE2 logs every refused pattern on stderr unless told not to


def test_pattern_unsupported_is_a_warning_on_the_tool_and_its_calls_go_unchecked() -> None:
    rec = record({"type": "object", "properties": {"q": {"type": "string", "pattern": "^(?!admin)"}}}, {"q": 5})
    findings = check_record(rec, file="t.jsonl", line=3)[1]
    assert [(f.code, f.severity, f.path) for f in findings] == [("pattern_unsupported", "warning", "tools[0].function.parameters")]
    assert "properties/q/pattern" in findings[0].message and "not checked" in findings[0].message


def test_pattern_unsupported_is_listed_by_list_codes() -> None:
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    r = CliRunner().invoke(cli, ["validate", "--list-codes"])
    assert r.exit_code == 0 and "pattern_unsupported" in r.output


def test_ecma_meaning_where_python_re_differs() -> None:
    assert not search("^a$", "a\n")  # Python's $ matches before a final newline; ECMA-262's does not
    assert not search("^.$", "\r") and not search("^.$", "\u2028") and search("^.$", "é")
    assert search("^\\s$", "\u00a0") and search("^\\s$", "\ufeff") and not search("^\\S$", "\u3000")
    assert not search("^\\d$", "\u0663") and not search("^\\w$", "é")  # ASCII only, as in ECMA-262
    assert search("^\\u00e9\\x41$", "éA") and search("^\\uD83D\\uDE00$", "😀")
    assert search("^[\\d-z]+$", "1-z") and search("^a{2}{$", "aa{") and not search("^[]]$", "]")
    assert search("^[^]$", "x") and not search("[]", "x")


def test_a_schema_that_switches_draft_below_the_root_cannot_reach_pythons_re() -> None:
    """jsonschema picks its stock class again for a subschema with its own $schema (and for a $ref back to
    a root that has one), whose pattern runs on Python's re: such schemas are refused if they hold a
    pattern, and the root's $schema is left out of what jsonschema sees."""
    inner = {"type": "object", "properties": {"q": {"$schema": "http://json-schema.org/draft-07/schema#", "pattern": CATASTROPHIC}}}
    assert "$schema below the root" in (schema_check(json.dumps(inner)).unsupported or "")
    root = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"q": {"type": "string", "pattern": "^a$"}, "self": {"$ref": "#"}}}
    check = schema_check(json.dumps(root))
    assert check.unsupported is None
    assert check.is_valid({"self": {"q": "a\n"}}) is False  # RE2's (ECMA's) $: Python's re would accept "a\n"
    both = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "patternProperties": {"^x": {}}, "unevaluatedProperties": False}
    assert "unevaluatedProperties" in (schema_check(json.dumps(both)).unsupported or "")


# ---------------------------------------------------------------------------------- cost per record


def _doubling_schema(levels: int) -> dict[str, Any]:
    defs: dict[str, Any] = {f"d{i}": {"anyOf": [{"$ref": f"#/definitions/d{i + 1}"}, {"$ref": f"#/definitions/d{i + 1}"}]} for i in range(levels)}
    defs[f"d{levels}"] = {"type": "string"}
    return {"type": "object", "definitions": defs, "properties": {"x": {"$ref": "#/definitions/d0"}}}


def _calls(rec: dict[str, Any], n: int) -> dict[str, Any]:
    """``rec`` with its call repeated ``n`` times (each answered)."""
    out = copy.deepcopy(rec)
    call = out["messages"][1]["tool_calls"][0]
    out["messages"][1]["tool_calls"] = [dict(copy.deepcopy(call), id=f"abcDEF{i:03d}") for i in range(n)]
    out["messages"][2:3] = [{"role": "tool", "tool_call_id": f"abcDEF{i:03d}", "content": "done"} for i in range(n)]
    return out


def test_a_costly_schema_is_cut_off_the_same_way_every_time() -> None:
    """13 levels: 32,768 keyword evaluations (about a second of jsonschema) for one call, over the
    record's 20,000 steps: schema_unusable, counted not timed, so the same verdict on every run."""
    rec = record(_doubling_schema(13), {"x": 1})
    first = [str(f) for f in check_record(rec)[1]]
    second = [str(f) for f in check_record(rec)[1]]
    assert first == second and len(first) == 1 and "schema_unusable" in first[0] and "budget" in first[0]


def test_the_budget_is_per_record_not_per_call() -> None:
    """11 levels: 8,192 steps a call. Two calls fit in the record's budget and are checked; the third
    does not (a budget per call would let a record of many calls run without bound)."""
    rec = _calls(record(_doubling_schema(11), {"x": 1}), 3)
    findings = check_record(rec)[1]
    assert [f.code for f in findings] == ["arguments_schema", "arguments_schema", "schema_unusable"]
    assert "split the conversation" in findings[2].message  # the record's many calls cost as much as the schema
    # the next record starts with a whole budget again
    assert [f.code for f in check_record(record(_doubling_schema(11), {"x": 1}))[1]] == ["arguments_schema"]


def test_a_schema_of_exponential_cost_does_not_hang_validate(tmp_path: Path) -> None:
    """40 levels: 2**42 evaluations if run to the end."""
    path = write_jsonl(tmp_path / "in.jsonl", [_calls(record(_doubling_schema(40), {"x": 1}), 20)])
    run = run_commands([["validate", path]], watched="/nonexistent-watch", timeout=60)
    (result,) = run["results"]
    assert result["code"] == 1 and result["output"].count("error[schema_unusable]") == 20, result["output"]


def test_unique_items_is_linear() -> None:
    """jsonschema compares every pair of objects: 2,000 of them took it 14 s here (2 million deep
    comparisons, on the shared machine under load), fcdata 0.05 s. Its equality is kept (1 == 1.0,
    True != 1). The bound is loose on purpose (a loaded machine must not fail it): with 8,000 objects a
    pairwise check would take minutes, a linear one well under a second."""
    check = schema_check(json.dumps({"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}}))
    items = [{"k": i, "v": [i, {"w": str(i)}]} for i in range(8_000)]
    start = time.monotonic()
    assert check.is_valid({"a": items}) is True
    assert time.monotonic() - start < 15
    assert check.is_valid({"a": items + [{"v": [5, {"w": "5"}], "k": 5.0}]}) is False
    assert check.is_valid({"a": [1, True, 1.0]}) is False and check.is_valid({"a": [1, True]}) is True
    assert check.is_valid({"a": [{"a": 1}, {"a": True}, [0], [False]]}) is True


def test_a_pattern_pythons_re_overflows_on_is_a_finding_not_a_crash() -> None:
    rec = record({"type": "object", "properties": {"q": {"type": "string", "pattern": "a{99999999999}"}}}, {"q": "a"})
    assert [f.code for f in check_record(rec)[1]] == ["schema_invalid"]


# ------------------------------------------------------------------------- markup and terminal text

from html.parser import HTMLParser  # noqa: E402

from hostile_data import ESCAPES, FILE_NAME, PIECES, write_hostile_file  # noqa: E402

_PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "input", "header", "h1", "h2", "h3", "div", "p", "span", "code", "b", "table", "tr", "td", "label", "nav", "ol", "ul", "li", "a", "section", "main", "small", "i"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_hostile_text_is_escaped_in_every_field_of_the_html_page(tmp_path: Path) -> None:
    """Parsed as a browser tokenizes it (the real browser's DOM is checked in tests/test_view_browser.py):
    only the page's own elements and attributes, every piece of the attack shown as text."""
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    src = write_hostile_file(tmp_path)
    out = tmp_path / "page.html"
    r = CliRunner().invoke(cli, ["inspect", str(src), "-n", "3", "--html", str(out)])
    # one of the three hostile records cannot be rendered (a finding, exit 1); the page is written whole
    assert r.exit_code == 1 and "1 of 3 record(s) shown could not be rendered" in r.output, r.output
    parser = _Elements()
    parser.feed(out.read_text(encoding="utf-8"))
    assert set(parser.tags) <= _PAGE_TAGS, set(parser.tags) - _PAGE_TAGS
    assert parser.tags.count("style") == 1 and parser.tags.count("meta") == 3
    names = {name for name, _ in parser.attributes}
    assert names <= {"lang", "charset", "http-equiv", "content", "name", "type", "id", "class", "checked", "title", "href", "for", "role", "aria-label"}, names
    assert all(v.startswith("#") for n, v in parser.attributes if n == "href" and v is not None)
    text = "".join(parser.text)
    for piece in PIECES:
        assert piece in text or piece.replace(" ", "") in text.replace(" ", ""), piece
    assert FILE_NAME in text  # in the title and the records' headers, as text


_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _raw_controls(text: str) -> list[str]:
    """Control characters in ``text`` other than the SGR colour codes fcdata writes itself."""
    return _RAW_CONTROL.findall(re.sub(r"\x1b\[[0-9;]*m", "", text))


def test_terminal_output_carries_no_escape_sequence_from_the_data(tmp_path: Path) -> None:
    """ESC, CSI (7- and 8-bit), OSC (title, clipboard), BEL and DEL in every field: inspect with and
    without colour, validate, convert and prepare print them as visible text. Before the fix, inspect
    --color sent ESC [2J (clear the screen) and OSC 52 (write the clipboard) as they were, and
    --no-color still sent the OSC and C1 sequences (Click strips only CSI colour codes)."""
    from click.testing import CliRunner

    from fcdata.cli.main import cli

    src = str(write_hostile_file(tmp_path))
    runs = {
        "inspect --color": ["inspect", src, "-n", "3", "--color", "--tokens"],
        "inspect --no-color": ["inspect", src, "-n", "3", "--no-color"],
        "validate": ["validate", src],
        "convert": ["convert", src, "-o", str(tmp_path / "c.jsonl")],
        "prepare": ["prepare", src, "-o", str(tmp_path / "p")],
    }
    for name, argv in runs.items():
        r = CliRunner().invoke(cli, argv, color=True)
        assert r.exception is None or isinstance(r.exception, SystemExit), (name, r.exception)
        assert _raw_controls(r.output) == [], (name, sorted(set(_raw_controls(r.output))))
    shown = CliRunner().invoke(cli, runs["inspect --no-color"]).output
    assert "␛[2J" in shown and "␛]0;owned␇" in shown and "\\x9b31m" in shown  # visible, not swallowed


def test_visible_keeps_text_and_shows_every_control_character() -> None:
    from fcdata.view import visible

    assert visible("plain, tabs\tand\nnewlines; é 😀 [INST]") == "plain, tabs\tand\nnewlines; é 😀 [INST]"
    assert visible("".join(ESCAPES)) == "␛[2J␛]0;owned␇\\x9b31m␛]52;c;b3duZWQ=␇\\x7f"
    every = "".join(chr(c) for c in range(0x20)) + "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0))
    assert _RAW_CONTROL.findall(visible(every)) == [] and "\t" in visible(every) and "\n" in visible(every)
