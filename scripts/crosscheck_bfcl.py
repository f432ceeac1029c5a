"""Cross-check fcdata's BFCL scorer against BFCL's own code, reply by reply.

What it proves: on many replies per question of the BFCL v3 ``simple``, ``multiple``, ``parallel``,
``parallel_multiple`` and ``irrelevance`` categories, fcdata's verdict (:func:`fcdata.score.check_decoded`
on the reply as :func:`fcdata.score.parse_reply` reads it) is the one the Berkeley Function Calling
Leaderboard's own evaluation code gives: correct or not, and BFCL's ``error_type`` when it is not.
docs/scoring.md ("How this was verified") describes the claim; this script reproduces it.

The BFCL side is the code of the ``bfcl-eval`` release, run unmodified from an unpacked wheel:

- ``eval_checker/eval_runner.py``: ``ast_file_runner`` (AST categories) and ``relevance_file_runner``
  (irrelevance), called exactly as ``evaluate_task`` calls them, one reply at a time (language
  ``Python``, the category from the id, the model's name); their score file is captured in memory instead
  of being written (``write_list_of_dicts_to_file`` is replaced in the runner's namespace);
- ``eval_checker/ast_eval/ast_checker.py`` (``ast_checker``), which the runner calls, and what it imports
  (``constants/type_mappings.py``, the Java/JavaScript type converters, ``constants/model_config.py``'s
  ``MODEL_CONFIG_MAPPING`` for ``underscore_to_dot``), ``utils.py`` (``is_function_calling_format_output``,
  ``is_empty_output``);
- ``model_handler/api_inference/mistral.py``: ``MistralHandler.decode_ast``, the decode step the runner
  applies to a Mistral function-calling model's stored result, with the handler built by the runner's own
  ``get_handler``; ``_compile_tools`` for the tool check below.

A reply reaches BFCL as ``MistralHandler._parse_query_response_FC`` stores it: tool calls as
``[{name: json.dumps(arguments)}]``, a reply without tool calls as its text (content). A reply that
claims calls but cannot be read (fcdata's parse failure) is modelled as reaching BFCL as its raw text.

"With the name mapping" scores as BFCL scores ``mistral-large-2411-FC`` (``underscore_to_dot=True``,
fcdata's default); "without" passes ``mistralai_Ministral-8B-Instruct-2410`` (``underscore_to_dot=False``
in BFCL's config, fcdata's ``--keep-dots``) to the same runner and the same decode. That is the name rule
only: BFCL's own handler for that local model (``MistralFCHandler``) decodes differently (a reply that is
not a list of calls becomes ``[]``, i.e. ``wrong_count`` instead of ``ast_decoder:decoder_failed``, same
verdict), and that decode is not what fcdata reproduces or what this script checks.

bfcl_eval's package imports much that scoring never runs (API clients, tree-sitter, numpy/pandas for the
leaderboard tables). None of it needs to be installed: before importing, this script puts minimal
stand-ins in ``sys.modules`` for ``mistralai`` (always: no client is ever built), for ``overrides``,
``tenacity``, ``dotenv`` and ``tqdm`` when they are not installed, and for these bfcl_eval modules:
``constants/eval_config.py`` (paths only; the real one creates ``result/`` and ``score/`` folders on
import), ``eval_checker/eval_runner_helper.py`` (leaderboard tables), ``model_handler/parser/*`` (Java
and JavaScript prompt parsers), and every model handler module that ``model_config.py`` imports only to
store its class, except the Mistral one, which is real. Every module that decides a verdict is BFCL's.

Replies (deterministic for a given ``--seed``), for each question and each name-mapping setting:
the accepted answer (first accepted value of each parameter), the same with every optional parameter
omitted, every accepted value in turn, sampled combinations of accepted values, names in the other
style, each perturbation alone and ``--random`` random combinations of one to three (wrong function name, required argument dropped, unexpected argument, value of
the wrong type: string for int, bool for int, float for int, int for float (accepted), null..., wrong
or equivalent values, nested list/dict changes, calls shuffled, dropped, duplicated or added), text,
empty and ``[TOOL_CALLS] []`` replies, unparseable replies; on irrelevance questions also calls of every
kind. Replies are written as raw Mistral v0.3 text in several renderings (with or without ids, one
``[TOOL_CALLS]`` per call, text before the calls). The tool lists are checked too: BFCL's
``_compile_tools`` output for every question must be byte-identical (as JSON) to fcdata's ``bfcl_tools``.

BFCL's result shape: every reply is also given to fcdata as a ``{"result": ...}`` prediction holding
exactly what BFCL stores for it (:func:`fcdata.score.reply_from_prediction`, then ``check_decoded``),
and so are stored result values that no Mistral reply produces but a result file can hold (arguments as
objects, extra keys before or after the name, arguments that decode to arrays/null/strings/numbers/NaN
or are not JSON, empty or non-object elements, nested lists, ``[]``, ``{}``, ``null``, numbers, JSON
text), each scored by BFCL's runner on the same value. These are counted apart from the replies above.

Getting an unpacked bfcl_eval (no dependencies are installed)::

    pip download bfcl-eval==2025.6.30.4 --no-deps -d /tmp/bfcl_dl
    unzip -q /tmp/bfcl_dl/bfcl_eval-2025.6.30.4-py3-none-any.whl -d /tmp/bfcl_eval_2025.6.30.4

Run (from the repository root, in the project's virtual environment)::

    python scripts/crosscheck_bfcl.py --bfcl-eval /tmp/bfcl_eval_2025.6.30.4
    python scripts/crosscheck_bfcl.py --bfcl-eval /tmp/bfcl_eval_2025.6.30.4 --limit 20   # quick

With the defaults this is about 160,000 replies and 276,000 result-shape predictions (the same replies and
114,000 result-only values), one to two minutes on one core. Prints the number of replies compared, the
agreements and the first disagreements in detail (question id, name mapping, the reply as Mistral text
and as BFCL's stored result, both verdicts), then the same for the result shape. Exit status: 0 when
every verdict (and the tool check) agrees, 1 otherwise, 2 on a usage or setup error.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib
import importlib.util
import json
import random
import sys
import types
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fcdata.score import BfclResult, UnsupportedQuestion, bfcl_tools, check_decoded, parse_reply, reply_from_prediction  # noqa: E402

DEFAULT_DATA = ROOT / "tests" / "fixtures" / "shared" / "bfcl"
AST_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple")
CATEGORIES = AST_CATEGORIES + ("irrelevance",)
EXPECTED_VERSION = "2025.6.30.4"

# the model names the runner is given (its result folder names), by name mapping
MODEL_WITH_MAPPING = "mistral-large-2411-FC"  # MistralHandler, underscore_to_dot=True
MODEL_WITHOUT_MAPPING = "mistralai_Ministral-8B-Instruct-2410"  # underscore_to_dot=False
MISTRAL_HANDLER_MODULE = "bfcl_eval.model_handler.api_inference.mistral"

Json = Any
Arguments = dict[str, Json]


# --------------------------------------------------------------------------------------------------
# BFCL's own code, loaded from an unpacked wheel
# --------------------------------------------------------------------------------------------------


class SetupError(Exception):
    """The bfcl_eval folder or the data cannot be used as given (exit status 2)."""


@dataclass(frozen=True)
class Verdict:
    """One side's verdict on one reply; ``raised`` when that side stopped with an exception."""

    valid: bool
    error_type: str | None = None
    raised: str | None = None

    def show(self) -> str:
        if self.raised is not None:
            return f"raised {self.raised}"
        return "correct" if self.valid else f"wrong ({self.error_type})"


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


def _identity_decorator(*args: Any, **kwargs: Any) -> Any:
    """``@final`` / ``@override`` / ``@retry(...)`` stand-in: returns the function unchanged."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda function: function


def _placeholder(name: str) -> type:
    """A class that model_config.py stores but scoring never instantiates."""

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{name} is a stand-in: the cross-check only runs the Mistral handler")

    return type(name, (), {"__init__": refuse})


def _unavailable(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{name} is a stand-in (Java/JavaScript prompt parsing is not used here)")

    return refuse


class BfclEval:
    """The scoring code of an unpacked ``bfcl_eval`` package: runners, checker, Mistral handler."""

    def __init__(self, root: Path) -> None:
        package = root / "bfcl_eval"
        if not (package / "eval_checker" / "ast_eval" / "ast_checker.py").is_file():
            raise SetupError(f"{root} does not hold an unpacked bfcl_eval package (bfcl_eval/eval_checker/ast_eval/ast_checker.py)")
        if "bfcl_eval" in sys.modules:
            raise SetupError("bfcl_eval is already imported in this process")
        self.root = root
        self.version = self._version(root)
        self._install_stand_ins(package)
        sys.path.insert(0, str(root))
        writes_bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = True  # leave the unpacked folder as it was
        try:
            runner: Any = importlib.import_module("bfcl_eval.eval_checker.eval_runner")
        finally:
            sys.dont_write_bytecode = writes_bytecode
        for name in ("bfcl_eval", "bfcl_eval.eval_checker.ast_eval.ast_checker", MISTRAL_HANDLER_MODULE):
            origin = Path(sys.modules[name].__file__ or "").resolve()
            if root.resolve() not in origin.parents:
                raise SetupError(f"{name} was imported from {origin}, not from {root}")
        self.runner = runner
        config = importlib.import_module("bfcl_eval.constants.model_config").MODEL_CONFIG_MAPPING
        self.model_names = {True: MODEL_WITH_MAPPING, False: MODEL_WITHOUT_MAPPING}
        for mapping, model in self.model_names.items():
            flag = config[model.replace("_", "/")].underscore_to_dot
            if flag is not mapping:
                raise SetupError(f"BFCL's config gives {model} underscore_to_dot={flag}, expected {mapping}")
        # the runner's score file, captured instead of written
        self._written: list[list[dict[str, Any]]] = []
        runner.write_list_of_dicts_to_file = lambda filename, data, subdir=None: self._written.append(data)
        # the handler the runner builds for the model (its decode_ast is what turns a result into calls)
        self.handler = runner.get_handler(MODEL_WITH_MAPPING)
        if type(self.handler).__module__ != MISTRAL_HANDLER_MODULE:
            raise SetupError(f"BFCL's handler for {MODEL_WITH_MAPPING} is {type(self.handler)!r}")
        self.score_dir = root / "score"  # passed through; nothing is written there

    @staticmethod
    def _version(root: Path) -> str:
        for metadata in sorted(root.glob("bfcl_eval-*.dist-info/METADATA")):
            for line in metadata.read_text(encoding="utf-8").splitlines():
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
        return "unknown"

    @staticmethod
    def _install_stand_ins(package: Path) -> None:
        stand_ins: dict[str, types.ModuleType] = {
            "mistralai": _module("mistralai", Mistral=lambda **kwargs: None),
        }
        optional = {
            "overrides": _module("overrides", final=_identity_decorator, override=_identity_decorator),
            "tenacity": _module(
                "tenacity",
                retry=_identity_decorator,
                retry_if_exception_message=_identity_decorator,
                retry_if_exception_type=_identity_decorator,
                wait_random_exponential=_identity_decorator,
                stop_after_attempt=_identity_decorator,
            ),
            "dotenv": _module("dotenv", load_dotenv=lambda *args, **kwargs: False),
            "tqdm": _module("tqdm", tqdm=lambda iterable=None, *args, **kwargs: iterable),
        }
        for name, module in optional.items():
            if importlib.util.find_spec(name) is None:
                stand_ins[name] = module
        package_root = package.resolve()
        project_root = package_root.parent
        stand_ins["bfcl_eval.constants.eval_config"] = _module(
            "bfcl_eval.constants.eval_config",
            VLLM_PORT=1053,
            PACKAGE_ROOT=package_root,
            PROJECT_ROOT=project_root,
            RESULT_PATH=project_root / "result",
            SCORE_PATH=project_root / "score",
            DOTENV_PATH=project_root / ".env",
            TEST_IDS_TO_GENERATE_PATH=project_root / "test_case_ids_to_generate.json",
            PROMPT_PATH=package_root / "data",
            MULTI_TURN_FUNC_DOC_PATH=package_root / "data" / "multi_turn_func_doc",
            POSSIBLE_ANSWER_PATH=package_root / "data" / "possible_answer",
            UTILS_PATH=package_root / "scripts",
            RED_FONT="\033[91m",
            RESET="\033[0m",
        )
        stand_ins["bfcl_eval.eval_checker.eval_runner_helper"] = _module("bfcl_eval.eval_checker.eval_runner_helper")
        stand_ins["bfcl_eval.model_handler.parser.java_parser"] = _module(
            "bfcl_eval.model_handler.parser.java_parser", parse_java_function_call=_unavailable("parse_java_function_call")
        )
        stand_ins["bfcl_eval.model_handler.parser.js_parser"] = _module(
            "bfcl_eval.model_handler.parser.js_parser", parse_javascript_function_call=_unavailable("parse_javascript_function_call")
        )
        # model_config.py imports every handler class only to store it in MODEL_CONFIG_MAPPING
        tree = ast.parse((package / "constants" / "model_config.py").read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.ImportFrom):
                continue
            source = node.module or ""
            if source.startswith("bfcl_eval.model_handler.") and source != MISTRAL_HANDLER_MODULE:
                module = stand_ins.setdefault(source, _module(source))
                for alias in node.names:
                    setattr(module, alias.name, _placeholder(alias.name))
        sys.modules.update(stand_ins)

    def verdict(self, question: dict[str, Any], answer: dict[str, Any] | None, result: Json, underscore_to_dot: bool) -> Verdict:
        """BFCL's verdict on one stored result, through the runner ``evaluate_task`` would use."""
        category = question["id"].rsplit("_", 1)[0]
        model_result = [{"id": question["id"], "result": result}]
        model_name = self.model_names[underscore_to_dot]
        self._written.clear()
        try:
            if "relevance" in category:
                self.runner.relevance_file_runner(self.handler, model_result, [question], model_name, category, self.score_dir)
            else:
                self.runner.ast_file_runner(
                    self.handler, model_result, [question], [answer], "Python", category, model_name, self.score_dir
                )
        except Exception as exc:  # BFCL's evaluation would stop here
            return Verdict(False, None, f"{type(exc).__name__}: {exc}")
        (rows,) = self._written
        if rows[0]["correct_count"] == 1:
            return Verdict(True)
        return Verdict(False, rows[1]["error_type"])

    def tools(self, question: dict[str, Any]) -> list[dict[str, Any]]:
        """The tools ``MistralHandler._compile_tools`` sends for a question (it edits its input: a copy)."""
        tools: list[dict[str, Any]] = self.handler._compile_tools({}, copy.deepcopy(question))["tools"]
        return tools


def fcdata_verdict(question: dict[str, Any], answer: dict[str, Any] | None, mistral_text: str, underscore_to_dot: bool) -> Verdict:
    """fcdata's verdict on one raw reply: :func:`parse_reply` then :func:`check_decoded`."""
    try:
        result: BfclResult = check_decoded(question, answer, parse_reply(mistral_text), underscore_to_dot=underscore_to_dot)
    except UnsupportedQuestion as exc:
        return Verdict(False, None, f"UnsupportedQuestion: {exc}")
    return Verdict(result.valid, result.error_type)


def fcdata_result_verdict(question: dict[str, Any], answer: dict[str, Any] | None, result: Json, underscore_to_dot: bool) -> Verdict:
    """fcdata's verdict on a prediction given in BFCL's result shape, ``{"result": result}``:
    :func:`reply_from_prediction` then :func:`check_decoded` (what ``fcdata score --bfcl`` does)."""
    try:
        reply = reply_from_prediction({"id": question["id"], "result": result})
        verdict: BfclResult = check_decoded(question, answer, reply, underscore_to_dot=underscore_to_dot)
    except UnsupportedQuestion as exc:
        return Verdict(False, None, f"UnsupportedQuestion: {exc}")
    except Exception as exc:  # noqa: BLE001 - fcdata must not raise on any result value
        return Verdict(False, None, f"{type(exc).__name__}: {exc}")
    return Verdict(verdict.valid, verdict.error_type)


# --------------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendering:
    """How a list of calls is written as Mistral v0.3 text."""

    space: bool = True  # "[TOOL_CALLS] [" rather than "[TOOL_CALLS]["
    compact: bool = False  # json separators without spaces
    ids: bool = False  # each call carries a 9-character id
    split: bool = False  # one [TOOL_CALLS] per call


@dataclass(frozen=True)
class Reply:
    """A model reply: calls (possibly none), text, or a raw text that claims calls but is broken."""

    label: str
    kind: Literal["calls", "text", "broken", "result"]
    calls: tuple[tuple[str, Arguments], ...] = ()
    text: str = ""  # text: the content; calls: content before the calls; broken: the whole raw reply
    rendering: Rendering = Rendering()
    raw: Json = None  # result: a stored BFCL result value with no Mistral text behind it

    def mistral_text(self) -> str:
        """The reply as generated, decoded with special tokens kept (what fcdata parses)."""
        if self.kind == "result":
            return "(none: a BFCL result value only)"
        if self.kind == "text":
            return self.text + "</s>"
        if self.kind == "broken":
            return self.text + "</s>"
        separators = (",", ":") if self.rendering.compact else (", ", ": ")
        objects: list[dict[str, Any]] = []
        for index, (name, arguments) in enumerate(self.calls):
            obj: dict[str, Any] = {"name": name, "arguments": arguments}
            if self.rendering.ids:
                obj["id"] = f"c{index:08d}"
            objects.append(obj)
        marker = "[TOOL_CALLS] " if self.rendering.space else "[TOOL_CALLS]"
        if self.rendering.split and len(objects) > 1:
            payload = "".join(marker + json.dumps([obj], ensure_ascii=False, separators=separators) for obj in objects)
        else:
            payload = marker + json.dumps(objects, ensure_ascii=False, separators=separators)
        return self.text + payload + "</s>"

    def bfcl_result(self) -> Json:
        """What BFCL stores for the reply (``MistralHandler._parse_query_response_FC``): the tool calls
        as ``[{name: arguments as a JSON string}]``, else the message content."""
        if self.kind == "calls":
            return [{name: json.dumps(arguments)} for name, arguments in self.calls]
        if self.kind == "result":
            return copy.deepcopy(self.raw)
        return self.text


@dataclass
class Call:
    """A call being built: ``declared`` is the function it stands for, ``answer_index`` its accepted call."""

    name: str
    arguments: Arguments
    declared: str | None = None
    answer_index: int | None = None


class Omit:
    """Marker: leave the parameter out."""


OMIT = Omit()
Pick = Callable[[Sequence[Json]], Json]

# values of each JSON type, used where a value of "some other type" is wanted
STRING_OF = {"string", "any"}
NUMBER_TYPES = {"integer", "float"}


def typed_value(type_name: str | None, rng: random.Random) -> Json:
    """A plausible value of a declared BFCL type."""
    if type_name == "integer":
        return rng.choice([1, 7, 2024])
    if type_name == "float":
        return rng.choice([0.5, 2.5, 100.0])
    if type_name == "boolean":
        return rng.choice([True, False])
    if type_name in ("array", "tuple"):
        return rng.choice([[], ["a", "b"], [1, 2]])
    if type_name == "dict":
        return rng.choice([{}, {"key": "value"}])
    return rng.choice(["fcdata", "New York", "2024-01-01"])


def wrong_typed(type_name: str | None, value: Json, rng: random.Random) -> Json:
    """A value of another type than ``type_name`` (BFCL may still accept it when it has the type of
    the accepted values: its "variable" rule)."""
    if type_name in STRING_OF:
        options: list[Json] = [123, 1.5, True, None, [value], {"value": value}]
    elif type_name == "integer":
        options = [str(value), True, False, None, [value]]
        if type(value) is int:
            options.append(float(value))
    elif type_name == "float":
        options = [str(value), True, None, [value]]
    elif type_name == "boolean":
        options = ["true", str(value), 1, 0, None]
    elif type_name in ("array", "tuple"):
        options = [", ".join(map(str, value)) if isinstance(value, list) else "a, b", {"items": value}, None, 5]
        if isinstance(value, list) and value:
            options.append(value[0])  # one element instead of the list
            options.append([str(e) if not isinstance(e, str) else 1 for e in value])  # elements of another type
    elif type_name == "dict":
        options = [json.dumps(value), [value], None, "key=value"]
    else:
        options = [None, 0, "x"]
    return rng.choice(options)


def wrong_value(value: Json, rng: random.Random) -> Json:
    """Another value of the same JSON type (sometimes one BFCL's normalisation makes equal)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([value + 1, -value - 1, 0, value * 10])
    if isinstance(value, float):
        return rng.choice([value + 0.5, value * 10, -value - 1.0, float(int(value))])
    if isinstance(value, str):
        return rng.choice(
            [
                value + " extra",
                "fcdata wrong value",
                value.upper(),  # equal after standardize
                value.replace(" ", ",  ") + "...",  # equal after standardize
                value.replace(" ", "\t"),  # a tab is not removed by standardize
                value.replace("'", '"') if "'" in value else value + "'",
                value[:-1],
                "",
            ]
        )
    if isinstance(value, list):
        options: list[Json] = [value[::-1], value[:-1], value + value[:1], []]
        if value and all(isinstance(e, str) for e in value):
            options.append([e.upper() for e in value])  # equal after standardize
        if value and all(isinstance(e, dict) for e in value):
            dicts = copy.deepcopy(value)
            first = dicts[0]
            if first:
                key = rng.choice(list(first))
                first[key] = wrong_value(first[key], rng)
            options.append(dicts)
        return rng.choice(options)
    if isinstance(value, dict):
        changed = dict(value)
        if changed and rng.random() < 0.4:
            key = rng.choice(list(changed))
            changed[key] = wrong_value(changed[key], rng)
        elif changed and rng.random() < 0.5:
            del changed[rng.choice(list(changed))]
        else:
            changed["fcdata_key"] = "x"
        return changed
    return "fcdata"


class ReplyMaker:
    """Every reply for one question under one name-mapping setting."""

    def __init__(self, question: dict[str, Any], answer: dict[str, Any] | None, underscore_to_dot: bool, rng: random.Random) -> None:
        self.question = question
        self.answer = answer
        self.mapping = underscore_to_dot
        self.rng = rng
        self.functions: dict[str, dict[str, Any]] = {f["name"]: f for f in question["function"]}
        self.ground_truth: list[dict[str, Any]] = answer["ground_truth"] if answer else []

    # names -------------------------------------------------------------------------------------
    def name(self, declared: str) -> str:
        """The name a model sees for a declared function in this setting."""
        return declared.replace(".", "_") if self.mapping else declared

    def other_style(self, declared: str) -> str:
        return declared if self.mapping else declared.replace(".", "_")

    # schema ------------------------------------------------------------------------------------
    def properties(self, call: Call) -> dict[str, Any]:
        function = self.functions.get(call.declared or "")
        return function["parameters"]["properties"] if function else {}

    def required(self, call: Call) -> list[str]:
        function = self.functions.get(call.declared or "")
        return list(function["parameters"].get("required", [])) if function else []

    def accepted_params(self, call: Call) -> dict[str, list[Json]]:
        if call.answer_index is None:
            return {}
        ((_, params),) = self.ground_truth[call.answer_index].items()
        accepted: dict[str, list[Json]] = params
        return accepted

    # accepted answers --------------------------------------------------------------------------
    def first(self, accepted: Sequence[Json]) -> Json:
        return next((v for v in accepted if v != ""), OMIT)

    def sampled(self, accepted: Sequence[Json]) -> Json:
        value = self.rng.choice(list(accepted)) if accepted else ""
        return OMIT if value == "" else value

    def realize(self, value: Json, schema: dict[str, Any] | None, pick: Pick) -> Json:
        """An output value from an accepted value: an accepted dict maps each key to its accepted values
        (``dict_checker``), a list of such dicts is matched position by position (``list_dict_checker``)."""
        kind = (schema or {}).get("type")
        if kind == "dict" and isinstance(value, dict):
            out: dict[str, Json] = {}
            for key, options in value.items():
                chosen = pick(options) if isinstance(options, list) else options
                if chosen is not OMIT:
                    out[key] = chosen
            return out
        items = ((schema or {}).get("items") or {}).get("type")
        if kind in ("array", "tuple") and items == "dict" and isinstance(value, list):
            return [self.realize(e, {"type": "dict"}, pick) for e in value]
        return copy.deepcopy(value)

    def answer_calls(self, pick: Pick, override: tuple[int, str, Json] | None = None, omit_optional: bool = False) -> list[Call]:
        calls = []
        for index, entry in enumerate(self.ground_truth):
            ((declared, params),) = entry.items()
            properties = self.functions.get(declared, {}).get("parameters", {}).get("properties", {})
            arguments: Arguments = {}
            for param, accepted in params.items():
                if override is not None and override[:2] == (index, param):
                    chosen = OMIT if override[2] == "" else override[2]
                elif omit_optional and "" in accepted:
                    chosen = OMIT
                else:
                    chosen = pick(accepted)
                if chosen is not OMIT:
                    arguments[param] = self.realize(chosen, properties.get(param), pick)
            calls.append(Call(self.name(declared), arguments, declared, index))
        return calls

    def rendering(self) -> Rendering:
        r = self.rng.random
        return Rendering(space=r() < 0.8, compact=r() < 0.3, ids=r() < 0.3, split=r() < 0.2)

    def reply(self, label: str, calls: list[Call], text: str = "", rendering: Rendering | None = None) -> Reply:
        return Reply(label, "calls", tuple((c.name, c.arguments) for c in calls), text, rendering or self.rendering())

    # perturbations -----------------------------------------------------------------------------
    def _pick_call(self, calls: list[Call], need: Callable[[Call], bool] = lambda c: True) -> Call | None:
        candidates = [c for c in calls if need(c)]
        return self.rng.choice(candidates) if candidates else None

    def op_wrong_name(self, calls: list[Call]) -> str | None:
        call = self._pick_call(calls)
        if call is None:
            return None
        options = ["fcdata_no_such_function", call.name.upper(), call.name + "_v2"]
        if call.declared and self.other_style(call.declared) != call.name:
            options.append(self.other_style(call.declared))
        others = [self.name(n) for n in self.functions if n != call.declared]
        if others:
            options.append(self.rng.choice(others))
        call.name = self.rng.choice([o for o in options if o != call.name] or options)
        return "wrong_name"

    def op_drop_argument(self, calls: list[Call]) -> str | None:
        call = self._pick_call(calls, lambda c: bool(c.arguments))
        if call is None:
            return None
        required = [p for p in self.required(call) if p in call.arguments]
        param = self.rng.choice(required) if required and self.rng.random() < 0.5 else self.rng.choice(list(call.arguments))
        del call.arguments[param]
        return "drop_required" if param in required else "drop_argument"

    def op_unexpected_argument(self, calls: list[Call]) -> str | None:
        call = self._pick_call(calls)
        if call is None:
            return None
        absent = [p for p in self.properties(call) if p not in call.arguments]
        if absent and self.rng.random() < 0.5:
            param = self.rng.choice(absent)
            accepted = [v for v in self.accepted_params(call).get(param, []) if v != ""]
            schema = self.properties(call)[param]
            call.arguments[param] = self.realize(accepted[0], schema, self.first) if accepted and self.rng.random() < 0.5 else typed_value(schema.get("type"), self.rng)
            return "declared_argument_added"
        call.arguments["fcdata_unexpected"] = typed_value(self.rng.choice(["string", "integer", "boolean"]), self.rng)
        return "unexpected_argument"

    def op_wrong_type(self, calls: list[Call]) -> str | None:
        call = self._pick_call(calls, lambda c: bool(c.arguments))
        if call is None:
            return None
        param = self.rng.choice(list(call.arguments))
        type_name = self.properties(call).get(param, {}).get("type")
        call.arguments[param] = wrong_typed(type_name, call.arguments[param], self.rng)
        return "wrong_type"

    def op_number_kind(self, calls: list[Call]) -> str | None:
        """int for float (BFCL converts it) and float for int (a type error)."""

        def numeric(c: Call) -> bool:
            return any(type(v) in (int, float) for v in c.arguments.values())

        call = self._pick_call(calls, numeric)
        if call is None:
            return None
        param = self.rng.choice([p for p, v in call.arguments.items() if type(v) in (int, float)])
        value = call.arguments[param]
        call.arguments[param] = float(value) if type(value) is int else int(value)
        return "int_for_float" if type(value) is float else "float_for_int"

    def op_wrong_value(self, calls: list[Call]) -> str | None:
        call = self._pick_call(calls, lambda c: bool(c.arguments))
        if call is None:
            return None
        param = self.rng.choice(list(call.arguments))
        call.arguments[param] = wrong_value(call.arguments[param], self.rng)
        return "wrong_value"

    def op_other_accepted(self, calls: list[Call]) -> str | None:
        """The accepted value of another parameter, or another accepted value of this one."""
        call = self._pick_call(calls, lambda c: bool(self.accepted_params(c)))
        if call is None:
            return None
        params = self.accepted_params(call)
        param = self.rng.choice(list(params))
        source = self.rng.choice(list(params))
        value = self.sampled(params[source])
        if value is OMIT:
            call.arguments.pop(param, None)
        else:
            call.arguments[param] = self.realize(value, self.properties(call).get(param), self.sampled)
        return "same_accepted" if source == param else "other_parameter_value"

    def op_fill_optional(self, calls: list[Call]) -> str | None:
        """A value for a parameter the answer lets the model omit ("" accepted): "", [], {} or a value."""

        def omitted(c: Call) -> list[str]:
            return [p for p, accepted in self.accepted_params(c).items() if "" in accepted and p not in c.arguments]

        call = self._pick_call(calls, lambda c: bool(omitted(c)))
        if call is None:
            return None
        param = self.rng.choice(omitted(call))
        schema = self.properties(call).get(param, {})
        accepted = [v for v in self.accepted_params(call)[param] if v != ""]
        options: list[Json] = ["", [], {}, typed_value(schema.get("type"), self.rng)]
        if accepted:
            options.append(self.realize(accepted[0], schema, self.first))
        call.arguments[param] = self.rng.choice(options)
        return "optional_filled"

    def op_null(self, calls: list[Call]) -> str | None:
        call = self._pick_call(calls, lambda c: bool(c.arguments))
        if call is None:
            return None
        call.arguments[self.rng.choice(list(call.arguments))] = None
        return "null_value"

    def op_shuffle(self, calls: list[Call]) -> str | None:
        if len(calls) < 2:
            return None
        choice = self.rng.random()
        if choice < 0.3:
            calls.reverse()
            return "calls_reversed"
        if choice < 0.5:
            calls.append(calls.pop(0))
            return "calls_rotated"
        self.rng.shuffle(calls)
        return "calls_shuffled"

    def op_call_count(self, calls: list[Call]) -> str | None:
        choice = self.rng.random()
        if calls and choice < 0.35:
            del calls[self.rng.randrange(len(calls))]
            return "call_dropped"
        if calls and choice < 0.7:
            calls.insert(self.rng.randrange(len(calls) + 1), copy.deepcopy(self.rng.choice(calls)))
            return "call_duplicated"
        declared = self.rng.choice(list(self.functions))
        properties = self.functions[declared]["parameters"]["properties"]
        arguments = {p: typed_value(s.get("type"), self.rng) for p, s in properties.items() if self.rng.random() < 0.5}
        calls.insert(self.rng.randrange(len(calls) + 1), Call(self.name(declared), arguments, declared, None))
        return "call_added"

    def op_swap_arguments(self, calls: list[Call]) -> str | None:
        if len(calls) < 2:
            return None
        a, b = self.rng.sample(range(len(calls)), 2)
        calls[a].arguments, calls[b].arguments = calls[b].arguments, calls[a].arguments
        return "arguments_swapped"

    OPERATIONS: tuple[tuple[str, float], ...] = (
        ("op_wrong_name", 1.0),
        ("op_drop_argument", 1.5),
        ("op_unexpected_argument", 1.0),
        ("op_wrong_type", 2.0),
        ("op_number_kind", 1.0),
        ("op_wrong_value", 2.5),
        ("op_other_accepted", 1.5),
        ("op_fill_optional", 0.5),
        ("op_null", 0.5),
        ("op_shuffle", 1.5),
        ("op_call_count", 1.0),
        ("op_swap_arguments", 0.5),
    )

    def perturbed(self, base: list[Call]) -> tuple[list[Call], list[str]]:
        calls = copy.deepcopy(base)
        names = [n for n, _ in self.OPERATIONS]
        weights = [w for _, w in self.OPERATIONS]
        wanted = self.rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        labels: list[str] = []
        for _ in range(wanted * 4):  # some operations do not apply to some replies
            label = getattr(self, self.rng.choices(names, weights=weights)[0])(calls)
            if label is not None:
                labels.append(label)
            if len(labels) == wanted:
                break
        return calls, labels

    # the replies -------------------------------------------------------------------------------
    def broken(self, calls: list[Call]) -> Iterator[Reply]:
        """Replies that claim calls but cannot be read."""
        objects = [{"name": c.name, "arguments": c.arguments} for c in calls] or [{"name": "f", "arguments": {"x": 1}}]
        payload = json.dumps(objects, ensure_ascii=False)
        cut = self.rng.randrange(1, len(payload))
        yield Reply("broken:truncated", "broken", text="[TOOL_CALLS] " + payload[:cut])
        yield Reply("broken:object_not_list", "broken", text="[TOOL_CALLS] " + json.dumps(objects[0], ensure_ascii=False))
        as_string = [{"name": o["name"], "arguments": json.dumps(o["arguments"])} for o in objects]
        yield Reply("broken:arguments_as_string", "broken", text="[TOOL_CALLS] " + json.dumps(as_string, ensure_ascii=False))
        yield Reply("broken:text_after_calls", "broken", text="[TOOL_CALLS] " + payload + " Let me know if you need more.")
        yield Reply("broken:marker_only", "broken", text="[TOOL_CALLS]")
        yield Reply("broken:no_name", "broken", text="[TOOL_CALLS] " + json.dumps([{"arguments": o["arguments"]} for o in objects]))

    def text_replies(self, calls: list[Call]) -> Iterator[Reply]:
        yield Reply("text", "text", text="I'm sorry, I cannot help with that using the available tools.")
        yield Reply("text:empty", "text", text="")
        yield Reply("calls:empty_list", "calls", (), "", Rendering(space=self.rng.random() < 0.5))
        objects = [{"name": c.name, "arguments": c.arguments} for c in calls]
        yield Reply("text:bare_json", "text", text=json.dumps(objects, ensure_ascii=False))

    def ast_replies(self, n_combinations: int, n_random: int) -> Iterator[Reply]:
        accepted = self.answer_calls(self.first)
        yield self.reply("accepted", accepted, rendering=Rendering())
        yield self.reply("accepted:rendered", copy.deepcopy(accepted))
        yield self.reply("accepted:text_before_calls", copy.deepcopy(accepted), text="Sure, let me call the function. ")
        yield self.reply("accepted:ids_split", copy.deepcopy(accepted), rendering=Rendering(ids=True, split=True))
        yield self.reply("accepted:optional_omitted", self.answer_calls(self.first, omit_optional=True))
        if any(c.declared and "." in c.declared for c in accepted):
            other = copy.deepcopy(accepted)
            for call in other:
                call.name = self.other_style(call.declared or call.name)
            yield self.reply("accepted:other_name_style", other)
        for index, entry in enumerate(self.ground_truth):
            ((_, params),) = entry.items()
            for param, values in params.items():
                for value in values:
                    yield self.reply(f"value:{index}/{param}={json.dumps(value)[:40]}", self.answer_calls(self.first, (index, param, value)))
        for number in range(n_combinations):
            yield self.reply(f"combination:{number}", self.answer_calls(self.sampled))
        for operation, _ in self.OPERATIONS:  # each perturbation alone, where it applies
            calls = copy.deepcopy(accepted)
            label = getattr(self, operation)(calls)
            if label is not None:
                yield self.reply(f"single:{label}", calls)
        yield from self.text_replies(accepted)
        yield from self.broken(accepted)
        yield from self.result_replies(accepted)
        for _ in range(n_random):
            base = accepted if self.rng.random() < 0.5 else self.answer_calls(self.sampled)
            calls, labels = self.perturbed(base)
            yield self.reply("random:" + "+".join(labels or ["none"]), calls)

    def result_replies(self, calls: list[Call]) -> Iterator[Reply]:
        """Stored BFCL result values that no Mistral reply gives (``MistralHandler`` always stores
        ``[{name: json.dumps(arguments)}]`` or the text) but that a ``{"result": ...}`` prediction can
        hold: arguments as objects, extra keys, arguments that are not objects, malformed elements."""
        good = [{c.name: json.dumps(c.arguments)} for c in calls] or [{"f": "{}"}]
        first = next(iter(good[0]))
        raw: list[tuple[str, Json]] = [
            ("arguments_as_objects", [{c.name: copy.deepcopy(c.arguments)} for c in calls] or [{"f": {}}]),
            ("extra_key_after", [{**e, "fcdata_extra": "{}"} for e in good]),
            ("extra_key_before", [{"fcdata_extra": "{}", **e} for e in good]),
            ("extra_key_not_json", [{**e, "fcdata_extra": {"x": 1}} for e in good]),
            ("arguments_padded", [{k: " " + v + "\n" for k, v in e.items()} for e in good]),
            ("one_element_only", good[:1]),
            ("reversed", good[::-1]),
            ("empty_name", [{"": v} for e in good for v in e.values()]),
            ("empty_element", [{}]),
            ("empty_element_then_calls", [{}] + good),
            ("calls_then_string", good + ["x"]),
            ("calls_then_null", good + [None]),
            ("nested_list", [good]),
            ("object_not_list", good[0]),
            ("empty_list", []),
            ("empty_object", {}),
            ("null", None),
            ("number", 7),
            ("boolean", True),
            ("json_text", json.dumps(good)),
        ]
        for bad in ("[1, 2]", "[]", "null", '"x"', "1", "true", "NaN", "", "{", '{"a": NaN}', json.dumps(json.dumps({"a": 1}))):
            raw.append((f"arguments={bad[:12]}", [{first: bad}]))
            raw.append((f"calls_then_arguments={bad[:12]}", good + [{first: bad}]))
        for value in (None, 5, [1], ["{}"]):
            raw.append((f"arguments_value={json.dumps(value)}", [{first: value}]))
        for label, value in raw:
            yield Reply("result:" + label, "result", raw=value)

    def irrelevance_replies(self, n_random: int) -> Iterator[Reply]:
        function = self.question["function"][0]
        declared = function["name"]
        properties = function["parameters"]["properties"]
        required = function["parameters"].get("required", [])
        typed = {p: typed_value(properties[p].get("type"), self.rng) for p in required if p in properties}
        full = {p: typed_value(s.get("type"), self.rng) for p, s in properties.items()}
        call = Call(self.name(declared), typed, declared)
        yield from self.text_replies([call])
        yield from self.broken([call])
        yield from self.result_replies([call])
        yield self.reply("irrelevance:call_required", [call])
        yield self.reply("irrelevance:call_all_parameters", [Call(self.name(declared), full, declared)])
        yield self.reply("irrelevance:call_no_arguments", [Call(self.name(declared), {}, declared)])
        yield self.reply("irrelevance:call_other_name_style", [Call(self.other_style(declared), typed, declared)])
        yield self.reply("irrelevance:undeclared_function", [Call("fcdata_no_such_function", {"q": "x"})])
        yield self.reply("irrelevance:two_calls", [call, Call(self.name(declared), full, declared)])
        yield self.reply("irrelevance:text_before_call", [call], text="Let me look that up. ")
        for _ in range(n_random):
            calls, labels = self.perturbed([copy.deepcopy(call)])
            yield self.reply("irrelevance:random:" + "+".join(labels or ["none"]), calls)


# --------------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    question_id: str
    underscore_to_dot: bool
    reply: Reply
    bfcl: Verdict
    fcdata: Verdict

    def show(self) -> str:
        text = self.reply.mistral_text()
        result = json.dumps(self.reply.bfcl_result(), ensure_ascii=False)
        return "\n".join(
            [
                f"- {self.question_id}  (name mapping {'on' if self.underscore_to_dot else 'off'})  reply {self.reply.label}",
                f"    Mistral text: {text[:600]}{' ...' if len(text) > 600 else ''}",
                f"    BFCL result:  {result[:600]}{' ...' if len(result) > 600 else ''}",
                f"    BFCL:   {self.bfcl.show()}",
                f"    fcdata: {self.fcdata.show()}",
            ]
        )


@dataclass
class Tally:
    compared: int = 0
    agreed: int = 0
    bfcl_correct: int = 0
    bfcl_raised: int = 0
    by_group: Counter[tuple[str, bool, str]] = field(default_factory=Counter)
    error_types: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    disagreements: list[Disagreement] = field(default_factory=list)

    def add(self, category: str, question_id: str, mapping: bool, reply: Reply, bfcl: Verdict, fcdata: Verdict) -> None:
        self.compared += 1
        self.kinds[reply.label.split(":")[0]] += 1
        self.by_group[(category, mapping, "replies")] += 1
        if bfcl.raised is not None:
            self.bfcl_raised += 1
        elif bfcl.valid:
            self.bfcl_correct += 1
            self.by_group[(category, mapping, "correct")] += 1
        else:
            self.error_types[bfcl.error_type or "?"] += 1
        same = bfcl.raised is None and fcdata.raised is None and bfcl.valid == fcdata.valid and (bfcl.valid or bfcl.error_type == fcdata.error_type)
        if same:
            self.agreed += 1
            self.by_group[(category, mapping, "agreed")] += 1
        else:
            self.disagreements.append(Disagreement(question_id, mapping, reply, bfcl, fcdata))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def same_files(data: Path, bfcl: BfclEval) -> list[str]:
    """The fixture files that differ from the copies shipped in bfcl_eval/data (names)."""
    shipped = bfcl.root / "bfcl_eval" / "data"
    differing = []
    for category in CATEGORIES:
        names = [f"BFCL_v3_{category}.json"] + ([f"possible_answer/BFCL_v3_{category}.json"] if category != "irrelevance" else [])
        for name in names:
            if not (shipped / name).is_file() or (shipped / name).read_bytes() != (data / name).read_bytes():
                differing.append(name)
    return differing


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Exit status: 0 every verdict agrees, 1 a disagreement, 2 a usage or setup error. See the module docstring.",
    )
    parser.add_argument("--bfcl-eval", required=True, type=Path, metavar="PATH", help="folder holding an unpacked bfcl_eval wheel (bfcl_eval/ inside)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BFCL v3 question files and possible_answer/ (default: the shared fixtures)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N questions of each category")
    parser.add_argument("--seed", type=int, default=0, help="seed of the reply generator (default 0)")
    parser.add_argument("--random", type=int, default=40, metavar="N", help="random perturbations per question and name mapping (default 40)")
    parser.add_argument("--combinations", type=int, default=4, metavar="N", help="sampled combinations of accepted values per question (default 4)")
    parser.add_argument("--show", type=int, default=10, metavar="N", help="disagreements printed in detail (default 10)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")

    try:
        return run(args)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    """The cross-check itself; the exit status."""
    bfcl = BfclEval(args.bfcl_eval)
    print(f"bfcl_eval {bfcl.version} from {bfcl.root}" + ("" if bfcl.version == EXPECTED_VERSION else f"  (the documented check used {EXPECTED_VERSION})"))
    differing = same_files(args.data, bfcl)
    print(f"data: {args.data}  ({'identical to' if not differing else 'DIFFERS from'} bfcl_eval's own copies{': ' + ', '.join(differing) if differing else ''})")

    tally = Tally()  # replies as raw Mistral text (parse_reply)
    result_tally = Tally()  # the same replies, and result-only values, as {"result": ...} predictions
    tools_checked = tools_same = 0
    tools_differ: list[str] = []
    for category in CATEGORIES:
        questions = read_jsonl(args.data / f"BFCL_v3_{category}.json")[: args.limit]
        answers: dict[str, dict[str, Any]] = {}
        if category != "irrelevance":
            answers = {a["id"]: a for a in read_jsonl(args.data / "possible_answer" / f"BFCL_v3_{category}.json")}
        for question in questions:
            qid = question["id"]
            answer = answers.get(qid)
            if category != "irrelevance" and answer is None:
                raise SetupError(f"no accepted answer for {qid}")
            tools_checked += 1
            if json.dumps(bfcl.tools(question)) == json.dumps(bfcl_tools(question["function"], category)):
                tools_same += 1
            else:
                tools_differ.append(qid)
            for mapping in (True, False):
                rng = random.Random(f"{args.seed}:{qid}:{mapping}")
                maker = ReplyMaker(question, answer, mapping, rng)
                replies = maker.irrelevance_replies(args.random // 8) if category == "irrelevance" else maker.ast_replies(args.combinations, args.random)
                for reply in replies:
                    bfcl_says = bfcl.verdict(question, answer, reply.bfcl_result(), mapping)
                    if reply.kind != "result":
                        fcdata_says = fcdata_verdict(question, answer, reply.mistral_text(), mapping)
                        tally.add(category, qid, mapping, reply, bfcl_says, fcdata_says)
                    result_says = fcdata_result_verdict(question, answer, reply.bfcl_result(), mapping)
                    result_tally.add(category, qid, mapping, reply, bfcl_says, result_says)

    print()
    print(f"{'category':<20}{'mapping':>8}{'replies':>10}{'BFCL correct':>14}{'agree':>10}")
    for category in CATEGORIES:
        for mapping in (True, False):
            n = tally.by_group[(category, mapping, "replies")]
            if n:
                print(
                    f"{category:<20}{'on' if mapping else 'off':>8}{n:>10}{tally.by_group[(category, mapping, 'correct')]:>14}"
                    f"{tally.by_group[(category, mapping, 'agreed')]:>10}"
                )
    print()
    print("replies by kind: " + ", ".join(f"{kind} {count}" for kind, count in tally.kinds.items()))
    print("BFCL error types among the replies:")
    for error_type, count in sorted(tally.error_types.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:>7}  {error_type}")
    if tally.bfcl_raised:
        print(f"  {tally.bfcl_raised:>7}  (BFCL's evaluation raised an exception)")
    print()
    print(f"tools: {tools_same}/{tools_checked} questions with BFCL's _compile_tools output identical to fcdata's bfcl_tools" + (f"; differ: {', '.join(tools_differ[:10])}" if tools_differ else ""))
    print(f"replies compared: {tally.compared}")
    print(f"agreements (verdict and error type): {tally.agreed}")
    print(f"disagreements: {len(tally.disagreements)}")
    for disagreement in tally.disagreements[: args.show]:
        print(disagreement.show())
    if len(tally.disagreements) > args.show:
        print(f"  ... and {len(tally.disagreements) - args.show} more")
    print()
    result_only = result_tally.kinds["result"]
    print(
        f"BFCL result shape ({{\"result\": ...}} predictions): {result_tally.compared} compared "
        f"({result_tally.compared - result_only} of the replies above as BFCL stores them, {result_only} result-only values), "
        f"{result_tally.agreed} agreeing, {len(result_tally.disagreements)} disagreeing"
    )
    print("BFCL error types among them:")
    for error_type, count in sorted(result_tally.error_types.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:>7}  {error_type}")
    if result_tally.bfcl_raised:
        print(f"  {result_tally.bfcl_raised:>7}  (BFCL's evaluation raised an exception)")
    for disagreement in result_tally.disagreements[: args.show]:
        print(disagreement.show())
    if len(result_tally.disagreements) > args.show:
        print(f"  ... and {len(result_tally.disagreements) - args.show} more")
    return 0 if not tally.disagreements and not result_tally.disagreements and not tools_differ else 1


if __name__ == "__main__":
    sys.exit(main())
