"""The catalogue of conversion codes: every repair a converter may record in ``metadata.repairs`` and
every reason it may reject a record for, with one line on what it means. docs/convert.md explains the
decision behind each; a test checks that the code, this catalogue and the document agree.

Where a rejection means the same as a validator finding, it has the same code (``call_unanswered``,
``undeclared_function``, ``arguments_schema``...).
"""

from __future__ import annotations

__all__ = ["REPAIRS", "REJECTIONS"]

REPAIRS: dict[str, str] = {
    # Glaive call syntax
    "arguments_single_quoted": "Glaive's arguments were a single-quoted string of JSON text; decoded into an object",
    "arguments_multiline": "the arguments were pretty-printed over several lines; written compactly",
    "arguments_bare_object": "the arguments were a bare object instead of a quoted string; taken as is",
    "arguments_double_quoted": "Glaive's arguments were a double-quoted JSON string (OpenAI's wire form) instead of single quotes; decoded",
    "call_parameters_key": 'the call used "parameters" instead of "arguments"',
    "call_extra_brace": "closing braces too many after the call (one, as in the data, or more); dropped",
    "text_after_call_dropped": "text after the call in the same turn; removed (kept in metadata.dropped_text)",
    "truncated_call_dropped": "the chat was cut off inside its last call; that turn dropped, the rest kept",
    "stray_endoftext_removed": "an <|endoftext|> marker where no assistant turn ends; removed",
    "empty_turn_dropped": "a turn with no text (left by stray markers); dropped",
    # argument text
    "arguments_invalid_escape": "the invalid JSON escape \\' read as an apostrophe (never dropped)",
    "arguments_control_chars": "raw newlines/tabs inside argument strings read as escaped characters",
    "arguments_extra_brace": "one closing brace too many inside the arguments; dropped",
    "arguments_python_literal": "arguments written as a Python dict literal; read with ast.literal_eval, written as JSON",
    "arguments_double_encoded": "arguments were a JSON string holding the JSON object; decoded once more",
    "arguments_null": "null or empty arguments taken as {} (then checked against the schema like any call)",
    # conversation structure
    "text_before_call_dropped": "an assistant turn had text and a call; the text is removed from the trained turn (kept in metadata.dropped_text)",
    "text_turn_before_call_dropped": "an assistant text turn directly before a call turn; removed (kept in metadata.dropped_text)",
    "consecutive_assistant_merged": "two assistant text turns in a row; joined with a blank line (as mistral-common does)",
    "consecutive_user_merged": "two user turns in a row; joined with a blank line (as mistral-common does)",
    "consecutive_calls_merged": "two call turns in a row; made one turn of parallel calls",
    "trailing_user_dropped": "user turns after the last assistant turn; dropped (a training record ends with an assistant turn)",
    "trailing_tool_result_dropped": "tool results after the last assistant turn (e.g. a chat cut off in a function response); dropped",
    "trailing_system_dropped": "a system message after the last assistant turn; dropped",
    # tools and calls
    "duplicate_tool_dropped": "a function declared twice identically; the copy dropped",
    "function_name_sanitized": "a function name with characters Mistral v0.3 refuses; replaced by '_' in the declaration and its calls",
    "call_name_respelled": "a call spelled the declared name differently (create_to_do_list vs create_to-do_list); the declared spelling used",
    "required_unknown_dropped": "'required' listed names that are no declared property; those names dropped",
    "tool_parameters_added": 'a declaration without parameters; {"type": "object", "properties": {}} added',
    "tool_extra_keys_dropped": "keys a canonical declaration does not have (e.g. 'strict'); dropped",
    "tool_type_added": 'a tool without "type"; "function" added',
    "tool_wrapped": 'a bare function declaration in an OpenAI tools list; wrapped as {"type": "function", "function": ...}',
    "non_function_tool_dropped": "a tool of another type (retrieval, file search...); dropped",
    "code_interpreter_declared": '{"type": "code_interpreter"} declared as a function "python" taking {"code": ...}',
    "code_arguments_wrapped": 'a call to "python" whose arguments are raw code; wrapped as {"code": ...}',
    "call_type_added": 'a tool call without "type"; "function" added',
    "call_id_added": "a call without an id (OpenAI data); a deterministic id added",
    "call_id_remapped": "a call id that is not 9 letters/digits, or repeats; replaced everywhere it is used (old -> new in metadata.remapped_ids)",
    "tool_result_linked": "a tool result without tool_call_id; linked to its call by function name, else by order",
    "tool_result_name_fixed": "a tool result named another function than the call it answers; the call's name used",
    "tool_result_python_literal": "a tool result written as a Python repr; written as JSON",
    # OpenAI message shape
    "content_parts_joined": "content given as a list of text parts; joined into one string",
    "null_content_as_empty": 'content null in a user or tool message; "" used',
    "unknown_keys_dropped": "message keys a canonical message does not have; dropped",
    "masked_as_weight0": "functionary's metadata.masked turn; kept with weight 0 (not trained)",
    "legacy_functions": "OpenAI's legacy functions list; declared as tools",
    "legacy_function_call": "a legacy function_call; made a tool call",
    "legacy_function_role": "a legacy role 'function' message; made a tool result",
    "developer_as_system": "role 'developer'; read as system",
    # call markup in assistant text
    "tool_call_tags_parsed": "calls written as <tool_call>...</tool_call> in the assistant's text (Hermes, Qwen); read into tool calls",
    "toolcall_tags_parsed": "calls written as <TOOLCALL>[...]</TOOLCALL> in the assistant's text (When2Call, Nemotron); read into tool calls",
    "tool_calls_text_parsed": "calls written as the text [TOOL_CALLS][...] instead of as calls; read into tool calls",
    "functioncall_text_parsed": "a Glaive <functioncall> in the assistant's text of another format; read into a tool call",
    "tools_from_instruction": "tools declared in a section of the instruction text ([BEGIN OF AVAILABLE TOOLS], Hammer); read as the record's tools",
    "call_list_fence_removed": "the answer's list of calls fenced in a ``` code block (Hammer); the fence removed",
    "call_python_literal": "a call object written as a Python literal ({'name': ..., 'arguments': {...}, True}); read with ast.literal_eval",
    "literal_newlines_removed": "the two characters \\n (backslash, n) around a call where a line break was meant; removed",
    # declarations in other dialects (fcdata.schema_types)
    "parameters_schema_built": "xLAM-style parameters ({name: {type: 'str, optional', description, default}}) built into a JSON Schema object; required = neither optional nor defaulted",
    "schema_types_normalised": "type names that are not JSON Schema (BFCL's dict/float/tuple/any, Python's str/int/List[int]/Dict[str, Any]) read as JSON Schema types",
    "required_moved_into_parameters": "'required' written beside 'parameters' instead of in it (When2Call); moved in",
    "default_coerced": "a default written as text of its parameter's type ('250' for an integer); read as that value",
    "default_dropped": "a default its parameter's type cannot take (xLAM's 'static' for a List[int]); dropped",
    "integer_type_widened": "an integer parameter whose own default is a fraction (xLAM's 'int' latitude defaulting to 46.95828); declared a number",
    "tools_json_string": "tools given as the JSON text of the list instead of the list (OpenAI-style dumps); decoded",
    "tool_declarations_decoded": "tools given as a list of JSON texts, one per declaration (When2Call's test file); decoded",
    "tools_python_literal": "tools written as a Python repr (Hermes <tools> blocks: single quotes, True); read with ast.literal_eval",
    "tools_from_system_prompt": "the tools were declared inside the system text (Hermes <tools>, ToolACE's JSON list); moved to tools, the prose kept",
    "format_instructions_dropped": "the system text's instructions on writing calls in the source's markup (Hermes <tool_call>, ToolACE [func(...)]); dropped, the calls are [TOOL_CALLS] now (kept in metadata.dropped_text)",
    # results
    "tool_response_tags_removed": "a tool turn's <tool_response> tags (Hermes); removed",
    "tool_result_envelope_unwrapped": "a result wrapped as {\"name\", \"content\"|\"results\"} (Hermes, ToolACE, LLaMA-Factory v1); the content taken as the result, the name used to link it",
    "observation_content_encoded": "a result given as a JSON value instead of text (ComplexFuncBench, APIGen-MT dumps); written as its JSON text",
    # other call syntaxes and shapes
    "python_call_syntax_parsed": "calls written in Python call syntax ([Func Name(a=1), f(b='x')]: ToolACE, Gorilla); read with ast, literals only",
    "bare_conversation_wrapped": "a record that is a bare list of ShareGPT turns (data-genie's Hermes files); read as its conversations",
    "tool_call_parts_read": "LLaMA-Factory v1 tool_call content parts; read into tool calls",
    "reasoning_dropped": "reasoning (reasoning_content, v1 reasoning parts): Mistral v0.3 has no reasoning channel; not trained, kept in metadata.reasoning",
    # OpenAI Responses API requests (Nemotron RL / NeMo Gym)
    "responses_tools_nested": "tools in the Responses API's flat shape (name beside type); nested as chat tools, strict dropped",
    "expected_action_as_reply": "NeMo Gym's expected_action (the reply the row trains) appended as the last assistant turn",
    "instructions_as_system": "the Responses API's instructions (its system prompt beside the input) read as the system message",
    "loss_weight_as_weight": "LLaMA-Factory v1 loss_weight 0.0 on an assistant turn; kept with weight 0 (not trained)",
    "loss_weight_dropped": "a loss_weight other than 0 on a user, system or tool turn, which Mistral v0.3 never trains; dropped",
    "preference_chosen_as_target": "a When2Call preference row: the chosen response is the trained turn (the pair kept in metadata.preference)",
    "mcq_answer_as_reference": "a When2Call MCQ test row made a scoring reference: the correct option is the assistant turn, metadata.id the uuid, metadata.category the option",
    "trajectory_last_path_kept": "ToolBench's train_messages hold one message list per search step; the last (the whole path) kept (metadata.trajectory_paths_dropped)",
    "api_call_as_name": "Gorilla's function title is words and api_call the name calls use; declared under api_call (the titles in metadata.function_titles)",
    # ShareGPT
    "observation_list_split": "one observation holding a JSON list of results for parallel calls; split into one result per call",
}

REJECTIONS: dict[str, str] = {
    # reading
    "not_json": "the line is not JSON",
    "not_utf8": "the line is not UTF-8",
    "json_too_deep": "the JSON is nested too deeply",
    "truncated_file": "the file ends in the middle of a record",
    "not_object": "the record is not a JSON object",
    "unknown_format": "the record's keys match no known format",
    "several_records_per_row": "a published shape that holds several conversations in one row (ToolAlpaca's API rows); not split",
    "format_mismatch": "the record does not have the keys of the format its file is read as",
    "missing_field": "a field the format needs is missing",
    "wrong_type": "a field has the wrong type",
    "bad_value": "a value outside what the format allows (e.g. a call of type other than function)",
    "bad_role": "a role the format does not have",
    "invalid_unicode": "text with a lone surrogate, which UTF-8 cannot write",
    "non_finite_number": "a number JSON cannot carry (NaN, infinity)",
    "internal_error": "a converter failed unexpectedly (a bug: please report it)",
    # Glaive
    "glaive_unlabelled_text": "chat text before the first USER:/ASSISTANT: label",
    "ambiguous_turn_label": "a USER:/ASSISTANT:/FUNCTION RESPONSE: label after a single line break: a turn, or quoted dialogue?",
    "tool_declaration_not_json": "a function declaration (Glaive system prompt, ShareGPT tools) that is not valid JSON",
    "call_truncated": "a call cut off before its end, with turns after it",
    "empty_call_list": "the answer is an empty list of calls (xLAM irrelevance rows): there is no reply to train on",
    "call_positional_arguments": "a call in Python syntax with positional arguments, which name no parameter",
    "call_markup_text": "assistant text holding tool-call markup that cannot be read as calls (or of a template fcdata does not read); it must not be trained as text",
    "call_unparseable": "a <functioncall> (or function_call) that is not a call at all",
    # arguments
    "arguments_not_json": "arguments that are not JSON (and no Python literal either)",
    "arguments_truncated": "arguments that end in the middle of a JSON value",
    "arguments_non_finite": "arguments holding Infinity, NaN or a number too large for JSON",
    "arguments_not_object": "arguments that are an array, a number or a string",
    "arguments_schema": "arguments that break the declared parameters schema",
    # declarations
    "schema_invalid": "a parameters schema that is not a valid JSON Schema",
    "duplicate_tool_conflict": "one function name declared twice with different definitions",
    "function_name_format": "a function name that cannot be made valid for Mistral v0.3 (empty or longer than 64)",
    "tool_name_missing": "a declaration without a function name",
    "tool_not_object": "a declaration that is not an object",
    "tool_bad_field": "a declaration field of the wrong type (e.g. a non-string description)",
    # conversation structure
    "empty_conversation": "no messages",
    "no_assistant_turn": "no assistant turn to train on",
    "single_message": "nothing but one assistant message is left",
    "empty_text": "a pretraining record with no text",
    "role_order": "a role order Mistral v0.3 does not accept (e.g. system after a tool result)",
    "unsupported_content": "a content part that is not text (image, audio)",
    "undeclared_function": "a call to a function the record does not declare (no unambiguous respelling either)",
    "call_unanswered": "a call with no result before the next assistant turn",
    "call_answered_late": "a result that comes after the next assistant turn",
    "tool_result_unlinked": "a result that answers no call (no call before it, more results than calls, an unknown id)",
    "tool_result_duplicate": "a second result for the same call id",
}
