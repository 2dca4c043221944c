"""Down, the reverse direction: a Chat Completions request -> a Responses create request. Pure.

`to_responses_request` parses the chat client's body as untrusted JSON (`Mapping[str, object]`): every
value it reads is checked, a malformed one raises `InvalidRequest` naming it
(`messages[2].tool_calls[0].function.name`), and a field the Responses API cannot honour is reported in
`dropped` (or refused, in strict mode). What it builds is a typed `ResponsesRequest`.

Decisions (WIRE.md, "The reverse direction"):
- System and developer messages stay input messages with their own role, wherever they are, rather than
  becoming `instructions`: that keeps their order, their role and their parts, several of them stay
  several, and the Responses API treats such a message as it treats `instructions`.
- Responses defaults differ from chat ones in two places, so they are always sent: `store` (Responses keeps
  a response unless told not to; a chat request is not kept unless it says `store: true`) and a function
  tool's `strict` (true in Responses, false in chat: a chat tool schema is rarely strict-compatible).
- Legacy `functions` / `function_call` / `role: function` are refused: their answer (`message.function_call`,
  `finish_reason: function_call`) is another shape, and dropping them would leave the model without tools.
- A value that changes nothing (`n: 1`, `stop: null`, `presence_penalty: 0`, `logprobs: false`) is not
  reported; one that would, and that the Responses API has no parameter for, is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ...errors import InvalidRequest
from ...wire.responses import (
    FunctionTool,
    ReasoningText,
    ResponseInputContent,
    ResponseInputFile,
    ResponseInputItem,
    ResponsesRequest,
    TextConfigParam,
    TextFormatJSONSchema,
    Tool,
    ToolChoice,
    ToolChoiceMode,
)
from ..dropped import Dropped
from ..model import requested_model

_HANDLED = frozenset({
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "response_format", "verbosity",
    "reasoning_effort", "max_tokens", "max_completion_tokens", "temperature", "top_p", "logprobs", "top_logprobs",
    "user", "metadata", "store", "stream", "stream_options", "service_tier", "safety_identifier",
    "prompt_cache_key", "prompt_cache_retention",
    # Known, honoured only at their no-op value (see `_unhonoured`).
    "n", "stop", "seed", "logit_bias", "presence_penalty", "frequency_penalty", "audio", "modalities",
    "prediction", "web_search_options",
})
# Same name, a string, in both APIs.
_SAME_STRINGS: tuple[Literal["user", "service_tier", "safety_identifier", "prompt_cache_key"], ...] = (
    "user", "service_tier", "safety_identifier", "prompt_cache_key",
)
_INPUT_ROLES: dict[str, Literal["system", "developer", "user"]] = {
    "system": "system", "developer": "developer", "user": "user",
}
_FILE_FIELDS: tuple[Literal["file_data", "file_id", "filename"], ...] = ("file_data", "file_id", "filename")
_TOOL_CHOICE_MODES: dict[str, ToolChoiceMode] = {"auto": "auto", "none": "none", "required": "required"}
_VERBOSITIES: dict[str, Literal["low", "medium", "high"]] = {"low": "low", "medium": "medium", "high": "high"}
_DETAILS: dict[str, Literal["low", "high", "auto", "original"]] = {
    "low": "low", "high": "high", "auto": "auto", "original": "original",
}
_AUDIO_FORMATS: dict[str, Literal["mp3", "wav"]] = {"mp3": "mp3", "wav": "wav"}
_RETENTIONS: dict[str, Literal["in_memory", "24h"]] = {"in_memory": "in_memory", "24h": "24h"}
_LEGACY = "legacy function calling is not supported by this bridge; send 'tools' and 'tool_choice' instead"


@dataclass(slots=True)
class ResponsesDown:
    """A chat request translated for a Responses upstream."""

    request: ResponsesRequest
    dropped: list[Dropped] = field(default_factory=list)
    # The client asked for a stream, and for its usage chunk (`stream_options.include_usage`): the caller
    # passes it on to `ChatStreamTranslator`. The Responses stream carries usage in its last event anyway.
    stream: bool = False
    include_usage: bool = False


def to_responses_request(
    chat: Mapping[str, object],
    *,
    default_model: str | None = None,
    strict: bool = False,
    reasoning_back: bool = True,
) -> ResponsesDown:
    """Translate a chat completions request into a Responses create request.

    Raises `InvalidRequest` for a malformed request, and in `strict` mode for a field that cannot be
    honoured. `reasoning_back`: an assistant message's `reasoning_content` (or `reasoning`) goes upstream
    as a `reasoning` item before that message; False leaves it out (an upstream that keeps reasoning only
    by id or sealed, as OpenAI does, may refuse reasoning items it did not make).
    """
    if not isinstance(chat, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    b = _Builder(strict, reasoning_back)

    model = requested_model(chat, default_model)
    for legacy in ("functions", "function_call"):
        if chat.get(legacy) is not None:
            raise InvalidRequest(f"'{legacy}': {_LEGACY}.", param=legacy, code="unsupported_parameter")
    messages = chat.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array of messages.", param="messages")
    out: ResponsesRequest = {"model": model, "input": b.messages(messages)}

    tools = chat.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("'tools' must be an array.", param="tools")
        function_tools: list[Tool] = []
        for i, tool in enumerate(tools):
            function_tool = b.tool(tool, f"tools[{i}]")
            if function_tool is not None:
                function_tools.append(function_tool)
        if function_tools:
            out["tools"] = function_tools
    choice = b.tool_choice(chat.get("tool_choice"))
    if choice is not None:
        out["tool_choice"] = choice
    if chat.get("parallel_tool_calls") is not None:
        out["parallel_tool_calls"] = _bool(chat, "parallel_tool_calls")

    text = _text(chat)
    if text:
        out["text"] = text
    effort = chat.get("reasoning_effort")
    if effort is not None:
        if not isinstance(effort, str):
            raise InvalidRequest("'reasoning_effort' must be a string.", param="reasoning_effort")
        out["reasoning"] = {"effort": effort}

    # `max_tokens` is the older name; a client sending both means the newer one.
    for name in ("max_completion_tokens", "max_tokens"):
        value = chat.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequest(f"'{name}' must be a positive integer.", param=name)
        out.setdefault("max_output_tokens", value)
    for number in ("temperature", "top_p"):
        value = chat.get(number)
        if value is not None:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidRequest(f"'{number}' must be a number.", param=number)
            out[number] = value

    logprobs = chat.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise InvalidRequest("'logprobs' must be a boolean.", param="logprobs")
    top_logprobs = chat.get("top_logprobs")
    if top_logprobs is not None:
        if not isinstance(top_logprobs, int) or isinstance(top_logprobs, bool) or not 0 <= top_logprobs <= 20:
            raise InvalidRequest("'top_logprobs' must be an integer between 0 and 20.", param="top_logprobs")
        out["top_logprobs"] = top_logprobs
    if logprobs:
        out["include"] = ["message.output_text.logprobs"]

    for same in _SAME_STRINGS:
        value = chat.get(same)
        if value is not None:
            if not isinstance(value, str):
                raise InvalidRequest(f"'{same}' must be a string.", param=same)
            out[same] = value
    retention = chat.get("prompt_cache_retention")
    if retention is not None:
        if not isinstance(retention, str) or retention not in _RETENTIONS:
            raise InvalidRequest("'prompt_cache_retention' must be in_memory or 24h.", param="prompt_cache_retention")
        out["prompt_cache_retention"] = _RETENTIONS[retention]
    metadata = chat.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise InvalidRequest("'metadata' must be an object of string keys and values.", param="metadata")
        out["metadata"] = {str(k): str(v) for k, v in metadata.items()}
    out["store"] = _bool(chat, "store") if chat.get("store") is not None else False

    stream = chat.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    include_usage = False
    options = chat.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
        usage = options.get("include_usage")
        if usage is not None and not isinstance(usage, bool):
            raise InvalidRequest("'stream_options.include_usage' must be a boolean.",
                                 param="stream_options.include_usage")
        include_usage = bool(usage)
    if stream:
        out["stream"] = True

    for name, reason in _unhonoured(chat):
        b.drop(name, reason)
    for name in chat:
        if name not in _HANDLED and name not in ("functions", "function_call"):
            b.drop(name, "not a Chat Completions parameter the bridge knows")
    return ResponsesDown(out, b.dropped, stream=bool(stream), include_usage=bool(stream) and include_usage)


def _unhonoured(chat: Mapping[str, object]) -> list[tuple[str, str]]:
    """Chat parameters the Responses API has no counterpart for, where their value would change the answer."""
    out = []
    n = chat.get("n")
    if n is not None and n != 1:
        out.append(("n", "a Responses upstream gives one answer per request; n other than 1 cannot be honoured"))
    for name, noop in (("stop", None), ("seed", None), ("logit_bias", None), ("presence_penalty", 0),
                       ("frequency_penalty", 0), ("prediction", None), ("web_search_options", None),
                       ("audio", None)):
        value = chat.get(name)
        if value is not None and value != noop and value not in ([], {}, ""):
            out.append((name, "the Responses API has no such parameter"))
    modalities = chat.get("modalities")
    if modalities is not None and modalities != ["text"]:
        out.append(("modalities", "the bridge answers with text only"))
    return out


def _bool(chat: Mapping[str, object], name: str) -> bool:
    value = chat[name]
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be a boolean.", param=name)
    return value


def _str_field(obj: Mapping[str, object], name: str, param: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise InvalidRequest(f"'{param}.{name}' must be a string.", param=f"{param}.{name}")
    return value


def _object(obj: Mapping[str, object], name: str, param: str) -> dict[str, object]:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{param}.{name}' must be an object.", param=f"{param}.{name}")
    return value


def _text(chat: Mapping[str, object]) -> TextConfigParam:
    """`response_format` and `verbosity` -> the Responses `text` config."""
    text: TextConfigParam = {}
    fmt = chat.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, dict):
            raise InvalidRequest("'response_format' must be an object.", param="response_format")
        kind = fmt.get("type")
        if kind == "json_schema":
            spec = _object(fmt, "json_schema", "response_format")
            p = "response_format.json_schema"
            schema = spec.get("schema")
            if not isinstance(schema, dict):
                # Optional in chat, required by the Responses API: refused rather than guessed.
                raise InvalidRequest(f"'{p}.schema' must be an object (a Responses upstream requires one).",
                                     param=f"{p}.schema")
            json_schema: TextFormatJSONSchema = {
                "type": "json_schema", "name": _str_field(spec, "name", p), "schema": schema,
            }
            if spec.get("description") is not None:
                json_schema["description"] = _str_field(spec, "description", p)
            if spec.get("strict") is not None:
                value = spec["strict"]
                if not isinstance(value, bool):
                    raise InvalidRequest(f"'{p}.strict' must be a boolean.", param=f"{p}.strict")
                json_schema["strict"] = value
            text["format"] = json_schema
        elif kind == "json_object":
            text["format"] = {"type": "json_object"}
        elif kind == "text":
            text["format"] = {"type": "text"}
        else:
            raise InvalidRequest(f"'response_format.type' {kind!r} must be text, json_object or json_schema.",
                                 param="response_format.type")
    verbosity = chat.get("verbosity")
    if verbosity is not None:
        if not isinstance(verbosity, str) or verbosity not in _VERBOSITIES:
            raise InvalidRequest("'verbosity' must be low, medium or high.", param="verbosity")
        text["verbosity"] = _VERBOSITIES[verbosity]
    return text


class _Builder:
    __slots__ = ("strict", "reasoning_back", "dropped", "custom_calls")

    def __init__(self, strict: bool, reasoning_back: bool) -> None:
        self.strict = strict
        self.reasoning_back = reasoning_back
        self.dropped: list[Dropped] = []
        self.custom_calls: set[str] = set()  # ids of custom tool calls: their outputs are custom too

    def drop(self, param: str, reason: str) -> None:
        if self.strict:
            raise InvalidRequest(f"'{param}' is not supported by this bridge: {reason}.", param=param,
                                 code="unsupported_parameter")
        self.dropped.append(Dropped(param, reason))

    # ---- messages -> input items ---------------------------------------------------------------

    def messages(self, messages: list[object]) -> list[ResponseInputItem]:
        items: list[ResponseInputItem] = []
        for i, message in enumerate(messages):
            p = f"messages[{i}]"
            if not isinstance(message, dict):
                raise InvalidRequest(f"'{p}' must be an object.", param=p)
            role = message.get("role")
            if isinstance(role, str) and role in _INPUT_ROLES:
                input_role = _INPUT_ROLES[role]
                content = message.get("content")
                if isinstance(content, str):
                    items.append({"type": "message", "role": input_role, "content": content})
                elif isinstance(content, list):
                    items.append({"type": "message", "role": input_role,
                                  "content": self.input_parts(content, f"{p}.content")})
                else:
                    raise InvalidRequest(f"'{p}.content' must be a string or an array of content parts.",
                                         param=f"{p}.content")
            elif role == "assistant":
                self.assistant(message, p, i, items)
            elif role == "tool":
                call_id = _str_field(message, "tool_call_id", p)
                output = self.tool_output(message.get("content"), f"{p}.content")
                if call_id in self.custom_calls:
                    items.append({"type": "custom_tool_call_output", "call_id": call_id, "output": output})
                else:
                    items.append({"type": "function_call_output", "call_id": call_id, "output": output})
            elif role == "function":
                raise InvalidRequest(f"'{p}.role' function: {_LEGACY}.", param=f"{p}.role",
                                     code="unsupported_parameter")
            else:
                raise InvalidRequest(
                    f"'{p}.role' must be one of system, developer, user, assistant, tool; got {role!r}.",
                    param=f"{p}.role",
                )
            if message.get("name") is not None:
                self.drop(f"{p}.name", "the Responses API has no participant names")
        return items

    def assistant(self, message: Mapping[str, object], p: str, i: int, items: list[ResponseInputItem]) -> None:
        """An assistant turn: its reasoning, then its text (or refusal), then one item per tool call."""
        if message.get("function_call") is not None:
            raise InvalidRequest(f"'{p}.function_call': {_LEGACY}.", param=f"{p}.function_call",
                                 code="unsupported_parameter")
        if message.get("audio") is not None:
            self.drop(f"{p}.audio", "the bridge answers with text only; an earlier audio answer is not sent back")
        for field_name in ("reasoning_content", "reasoning"):
            reasoning = message.get(field_name)
            if reasoning is None:
                continue
            if not isinstance(reasoning, str):
                raise InvalidRequest(f"'{p}.{field_name}' must be a string.", param=f"{p}.{field_name}")
            if reasoning and self.reasoning_back:
                # The API wants an id on every reasoning item; this one was never the upstream's, so it says
                # where it came from rather than pretending to be one.
                text: ReasoningText = {"type": "reasoning_text", "text": reasoning}
                items.append({"type": "reasoning", "id": f"rs_messages_{i}", "summary": [], "content": [text]})
            break

        content = message.get("content")
        refusal = message.get("refusal")
        if refusal is not None and not isinstance(refusal, str):
            raise InvalidRequest(f"'{p}.refusal' must be a string.", param=f"{p}.refusal")
        calls = message.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise InvalidRequest(f"'{p}.tool_calls' must be an array.", param=f"{p}.tool_calls")
        if isinstance(content, str) and not refusal:
            if content or not calls:
                items.append({"type": "message", "role": "assistant", "content": content})
        elif isinstance(content, list) or refusal:
            parts = self.output_parts(content if isinstance(content, list) else [], f"{p}.content")
            if isinstance(content, str) and content:
                parts.insert(0, {"type": "output_text", "text": content, "annotations": []})
            if refusal:
                parts.append({"type": "refusal", "refusal": refusal})
            items.append({"type": "message", "role": "assistant", "content": parts})
        elif content is not None:
            raise InvalidRequest(f"'{p}.content' must be a string, an array of content parts or null.",
                                 param=f"{p}.content")
        elif not calls:
            raise InvalidRequest(f"'{p}' needs content or tool_calls.", param=f"{p}.content")
        for j, call in enumerate(calls or []):
            self.tool_call(call, f"{p}.tool_calls[{j}]", items)

    def tool_call(self, call: object, p: str, items: list[ResponseInputItem]) -> None:
        if not isinstance(call, dict):
            raise InvalidRequest(f"'{p}' must be an object.", param=p)
        call_id = _str_field(call, "id", p)
        kind = call.get("type", "function")
        if kind == "function":
            fn = _object(call, "function", p)
            items.append({"type": "function_call", "call_id": call_id, "name": _str_field(fn, "name", f"{p}.function"),
                          "arguments": _str_field(fn, "arguments", f"{p}.function")})
        elif kind == "custom":
            custom = _object(call, "custom", p)
            self.custom_calls.add(call_id)
            items.append({"type": "custom_tool_call", "call_id": call_id,
                          "name": _str_field(custom, "name", f"{p}.custom"),
                          "input": _str_field(custom, "input", f"{p}.custom")})
        else:
            raise InvalidRequest(f"'{p}.type' must be function or custom; got {kind!r}.", param=f"{p}.type")

    def tool_output(self, content: object, p: str) -> str | list[ResponseInputContent]:
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return self.input_parts(content, p)
        raise InvalidRequest(f"'{p}' must be a string or an array of content parts.", param=p)

    def input_parts(self, parts: list[object], param: str) -> list[ResponseInputContent]:
        out: list[ResponseInputContent] = []
        for i, part in enumerate(parts):
            p = f"{param}[{i}]"
            if not isinstance(part, dict):
                raise InvalidRequest(f"'{p}' must be an object.", param=p)
            kind = part.get("type")
            if kind == "text":
                out.append({"type": "input_text", "text": _str_field(part, "text", p)})
            elif kind == "image_url":
                image = _object(part, "image_url", p)
                detail = image.get("detail", "auto")
                if not isinstance(detail, str) or detail not in _DETAILS:
                    raise InvalidRequest(f"'{p}.image_url.detail' must be auto, low or high.",
                                         param=f"{p}.image_url.detail")
                out.append({"type": "input_image", "image_url": _str_field(image, "url", f"{p}.image_url"),
                            "detail": _DETAILS[detail]})
            elif kind == "input_audio":
                audio = _object(part, "input_audio", p)
                audio_format = audio.get("format")
                if not isinstance(audio_format, str) or audio_format not in _AUDIO_FORMATS:
                    raise InvalidRequest(f"'{p}.input_audio.format' must be wav or mp3.",
                                         param=f"{p}.input_audio.format")
                out.append({"type": "input_audio", "input_audio": {
                    "data": _str_field(audio, "data", f"{p}.input_audio"), "format": _AUDIO_FORMATS[audio_format]}})
            elif kind == "file":
                file = _object(part, "file", p)
                input_file: ResponseInputFile = {"type": "input_file"}
                for name in _FILE_FIELDS:
                    if file.get(name) is not None:
                        input_file[name] = _str_field(file, name, f"{p}.file")
                if "file_data" not in input_file and "file_id" not in input_file:
                    raise InvalidRequest(f"'{p}.file' needs file_data or file_id.", param=f"{p}.file")
                out.append(input_file)
            else:
                raise InvalidRequest(f"'{p}.type' {kind!r} must be text, image_url, input_audio or file.",
                                     param=f"{p}.type")
        return out

    def output_parts(self, parts: list[object], param: str) -> list[ResponseInputContent]:
        """An earlier assistant answer's parts, as the Responses API takes them back: output kinds only."""
        out: list[ResponseInputContent] = []
        for i, part in enumerate(parts):
            p = f"{param}[{i}]"
            if not isinstance(part, dict):
                raise InvalidRequest(f"'{p}' must be an object.", param=p)
            kind = part.get("type")
            if kind == "text":
                out.append({"type": "output_text", "text": _str_field(part, "text", p), "annotations": []})
            elif kind == "refusal":
                out.append({"type": "refusal", "refusal": _str_field(part, "refusal", p)})
            else:
                raise InvalidRequest(f"'{p}.type' {kind!r} must be text or refusal in an assistant message.",
                                     param=f"{p}.type")
        return out

    # ---- tools ---------------------------------------------------------------------------------

    def tool(self, tool: object, p: str) -> FunctionTool | None:
        if not isinstance(tool, dict):
            raise InvalidRequest(f"'{p}' must be an object.", param=p)
        kind = tool.get("type")
        if kind == "custom":
            self.drop(p, "custom (freeform) tools are not translated to a Responses upstream yet")
            return None
        if kind != "function":
            raise InvalidRequest(f"'{p}.type' must be function; got {kind!r}.", param=f"{p}.type")
        fn = _object(tool, "function", p)
        fp = f"{p}.function"
        out: FunctionTool = {"type": "function", "name": _str_field(fn, "name", fp)}
        if fn.get("description") is not None:
            out["description"] = _str_field(fn, "description", fp)
        parameters = fn.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidRequest(f"'{fp}.parameters' must be an object.", param=f"{fp}.parameters")
        # Chat: a function without parameters takes none. Responses requires the field.
        out["parameters"] = parameters if parameters is not None else {"type": "object", "properties": {}}
        tool_strict = fn.get("strict")
        if tool_strict is not None and not isinstance(tool_strict, bool):
            raise InvalidRequest(f"'{fp}.strict' must be a boolean.", param=f"{fp}.strict")
        out["strict"] = bool(tool_strict)  # chat's default is false, the Responses API's true
        return out

    def tool_choice(self, choice: object) -> ToolChoice | None:
        if choice is None:
            return None
        if isinstance(choice, str):
            mode = _TOOL_CHOICE_MODES.get(choice)
            if mode is None:
                raise InvalidRequest("'tool_choice' must be auto, none, required or an object.", param="tool_choice")
            return mode
        if not isinstance(choice, dict):
            raise InvalidRequest("'tool_choice' must be a string or an object.", param="tool_choice")
        kind = choice.get("type")
        if kind == "function":
            fn = _object(choice, "function", "tool_choice")
            return {"type": "function", "name": _str_field(fn, "name", "tool_choice.function")}
        if kind == "allowed_tools":
            allowed = _object(choice, "allowed_tools", "tool_choice")
            p = "tool_choice.allowed_tools"
            allowed_mode = allowed.get("mode")
            if allowed_mode not in ("auto", "required"):
                raise InvalidRequest(f"'{p}.mode' must be auto or required.", param=f"{p}.mode")
            tools = allowed.get("tools")
            if not isinstance(tools, list):
                raise InvalidRequest(f"'{p}.tools' must be an array.", param=f"{p}.tools")
            names: list[dict[str, object]] = []
            for i, tool in enumerate(tools):
                tp = f"{p}.tools[{i}]"
                if not isinstance(tool, dict) or tool.get("type") != "function":
                    raise InvalidRequest(f"'{tp}' must be a function tool reference.", param=tp)
                fn = _object(tool, "function", tp)
                names.append({"type": "function", "name": _str_field(fn, "name", f"{tp}.function")})
            return {"type": "allowed_tools", "mode": "auto" if allowed_mode == "auto" else "required", "tools": names}
        if kind == "custom":
            self.drop("tool_choice", "custom (freeform) tools are not translated to a Responses upstream yet")
            return None
        raise InvalidRequest(f"'tool_choice.type' must be function or allowed_tools; got {kind!r}.",
                             param="tool_choice.type")
