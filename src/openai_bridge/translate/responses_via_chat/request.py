"""Down: a Responses create request -> a Chat Completions request. Pure.

`to_chat_request` is the parser of the client's request: it reads the body as untrusted JSON
(`Mapping[str, object]`), validates it as it goes, raising `InvalidRequest` with the offending `param`,
and reports every field it could not honour in `Down.dropped` (or refuses it in strict mode), so
nothing is lost silently. What it builds is a typed `ChatRequest`.

A few values inside the client's objects go upstream unchecked, as they always have: the upstream
judges them (an image's `detail`, a file's fields, a function tool's `description` and `strict`, a JSON
schema's `strict` and `description`). They are `Any` to mypy, because `isinstance(x,
dict)` narrows JSON to `dict[Any, Any]`; each place is marked "unchecked".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import orjson

from ...errors import InvalidRequest
from ...wire.chat import (
    ChatAssistantMessage,
    ChatContent,
    ChatContentPart,
    ChatDeveloperMessage,
    ChatFile,
    ChatFunctionDefinition,
    ChatFunctionTool,
    ChatJSONSchema,
    ChatMessage,
    ChatRequest,
    ChatSystemMessage,
    ChatToolCall,
    ChatToolChoiceMode,
    ImageURL,
)
from ..dropped import Dropped
from ..model import requested_model
from .envelope import obj
from .options import Options, Role

# Fields the bridge handles itself (or echoes) rather than sending upstream. `store`, `background`,
# `previous_response_id` and `conversation` are the caller's business (the service resolves the history
# and decides what is kept and how it runs): the translator neither sends them nor judges them.
_BRIDGE_FIELDS = frozenset(
    {
        "input", "instructions", "model", "stream", "stream_options", "tools", "tool_choice", "text",
        "reasoning", "max_output_tokens", "temperature", "top_p", "presence_penalty", "frequency_penalty",
        "top_logprobs", "parallel_tool_calls",
        "user", "metadata", "store", "include", "truncation", "background", "previous_response_id",
        "conversation", "safety_identifier", "prompt_cache_key", "service_tier", "max_tool_calls",
        "prompt_cache_retention", "client_metadata",
    }
)
# Sent upstream under the same name, when the upstream takes them (`Options.passthrough`).
_PASSTHROUGH: tuple[Literal["service_tier", "safety_identifier", "prompt_cache_key", "prompt_cache_retention"], ...] = (
    "service_tier", "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
)
# Built-in tools a chat upstream cannot run. (`tool_search` is not among them: see `_Builder.tool`.)
_BUILTIN_TOOLS = (
    "web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11",
    "file_search", "code_interpreter", "image_generation", "computer_use", "computer_use_preview",
    "computer", "mcp", "local_shell", "shell", "apply_patch",
)
_ROLES = frozenset({"user", "assistant", "system", "developer"})
_TOOL_CHOICE_MODES: dict[str, ChatToolChoiceMode] = {"auto": "auto", "none": "none", "required": "required"}
_FILE_FIELDS: tuple[Literal["file_data", "file_id", "filename"], ...] = ("file_data", "file_id", "filename")
_SCHEMA_OPTIONS: tuple[Literal["strict", "description"], ...] = ("strict", "description")
# `include` values the bridge honours.
_INCLUDES = frozenset({"message.output_text.logprobs", "reasoning.encrypted_content"})


@dataclass(slots=True)
class Down:
    chat: ChatRequest
    dropped: list[Dropped] = field(default_factory=list)


def to_chat_request(
    request: Mapping[str, object],
    *,
    default_model: str | None = None,
    options: Options | None = None,
    unseal: Callable[[str, str], str] | None = None,
) -> Down:
    """Translate a Responses create request into a chat request.

    `request` is the parsed JSON body. Raises `InvalidRequest` for a malformed request (and, in
    strict mode, for a field that cannot be honoured). `unseal(blob, param)` opens the
    `encrypted_content` of reasoning items the bridge sealed earlier (raising `InvalidRequest` if it was
    tampered with); without it, such blobs are ignored.
    """
    opts = options or Options()
    if not isinstance(request, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    builder = _Builder(opts, unseal)

    model = requested_model(request, default_model)

    messages: list[ChatMessage] = []
    instructions = request.get("instructions")
    if instructions is not None:
        if isinstance(instructions, str):
            if instructions:
                messages.append(_system_message(opts.instructions_role, instructions))
        elif isinstance(instructions, list):
            builder.items(instructions, messages, "instructions")
        else:
            raise InvalidRequest("'instructions' must be a string.", param="instructions")

    inp = request.get("input")
    if inp is None:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    if isinstance(inp, str):
        messages.append({"role": "user", "content": inp})
    elif isinstance(inp, list):
        builder.items(inp, messages, "input")
    else:
        raise InvalidRequest("'input' must be a string or an array of input items.", param="input")
    chat: ChatRequest = {"model": model, "messages": _merge_system(messages) if opts.merge_system else messages}

    tools = request.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    chat_tools = builder.tools(tools or [])  # with the tools that tool_search_output items in the input loaded
    if chat_tools:
        chat["tools"] = chat_tools
    builder.tool_choice(request.get("tool_choice"), chat)
    if "tools" in chat and request.get("parallel_tool_calls") is not None:
        chat["parallel_tool_calls"] = _bool(request, "parallel_tool_calls")

    builder.text(request.get("text"), chat)

    reasoning = request.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            raise InvalidRequest("'reasoning' must be an object.", param="reasoning")
        effort = reasoning.get("effort")
        if effort is not None:
            if not isinstance(effort, str):
                raise InvalidRequest("'reasoning.effort' must be a string.", param="reasoning.effort")
            chat["reasoning_effort"] = effort

    max_out = request.get("max_output_tokens")
    if max_out is not None:
        if not isinstance(max_out, int) or isinstance(max_out, bool) or max_out < 1:
            raise InvalidRequest("'max_output_tokens' must be a positive integer.", param="max_output_tokens")
        chat[opts.max_tokens_field] = max_out

    for number in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = request.get(number)
        if value is not None:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidRequest(f"'{number}' must be a number.", param=number)
            chat[number] = value
    user = request.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise InvalidRequest("'user' must be a string.", param="user")
        chat["user"] = user

    top_logprobs = request.get("top_logprobs")
    include = request.get("include") or []
    if not isinstance(include, list):
        raise InvalidRequest("'include' must be an array of strings.", param="include")
    if top_logprobs is not None and (
        not isinstance(top_logprobs, int) or isinstance(top_logprobs, bool) or not 0 <= top_logprobs <= 20
    ):
        raise InvalidRequest("'top_logprobs' must be an integer between 0 and 20.", param="top_logprobs")
    if top_logprobs or "message.output_text.logprobs" in include:
        chat["logprobs"] = True
        if top_logprobs:
            chat["top_logprobs"] = top_logprobs

    stream = request.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}

    metadata = request.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("'metadata' must be an object of string keys and values.", param="metadata")

    for same in _PASSTHROUGH:
        value = request.get(same)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"'{same}' must be a string.", param=same)
        if same in opts.passthrough:
            chat[same] = value
        else:
            builder.drop(same, "this upstream is not configured to take it (BRIDGE_PASSTHROUGH); echoed only")
    if request.get("max_tool_calls") is not None:
        builder.drop("max_tool_calls", "not enforced by the bridge yet")
    for i, name in enumerate(include):
        if not isinstance(name, str):
            raise InvalidRequest("'include' must be an array of strings.", param=f"include[{i}]")
        if name not in _INCLUDES:
            builder.drop(f"include[{i}]", f"{name!r} is output of a built-in tool a chat upstream cannot run")
    if request.get("truncation") == "auto":
        builder.drop("truncation", "the bridge does not truncate the history; the upstream sees all of it")
    for name in request:
        if name not in _BRIDGE_FIELDS:
            builder.drop(name, "not a Responses create parameter the bridge knows")
    return Down(chat, builder.dropped)


def _system_message(role: Role, content: ChatContent) -> ChatSystemMessage | ChatDeveloperMessage:
    if role == "developer":
        return {"role": "developer", "content": content}
    return {"role": "system", "content": content}


def _merge_system(messages: list[ChatMessage]) -> list[ChatMessage]:
    merged: list[ChatMessage] = []
    for message in messages:
        last = merged[-1] if merged else None
        if (last is not None and message["role"] == "system" and last["role"] == "system"
                and isinstance(message["content"], str) and isinstance(last["content"], str)):
            merged[-1] = {"role": "system", "content": last["content"] + "\n\n" + message["content"]}
        else:
            merged.append(message)
    return merged


def _bool(request: Mapping[str, object], name: str) -> bool:
    value = request[name]
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be a boolean.", param=name)
    return value


class _Builder:
    __slots__ = ("opts", "dropped", "unseal", "reasoning", "loaded")

    def __init__(self, opts: Options, unseal: Callable[[str, str], str] | None) -> None:
        self.opts = opts
        self.dropped: list[Dropped] = []
        self.unseal = unseal
        self.reasoning: list[str] = []  # reasoning items waiting for the assistant message they belong to
        self.loaded: list[tuple[str, object]] = []  # (param, tool) that tool_search_output items loaded

    def drop(self, param: str, reason: str) -> None:
        if self.opts.strict:
            raise InvalidRequest(f"'{param}' is not supported by this bridge: {reason}.", param=param,
                                 code="unsupported_parameter")
        self.dropped.append(Dropped(param, reason))

    # ---- input items -------------------------------------------------------------------------

    def items(self, items: list[object], messages: list[ChatMessage], where: str) -> None:
        for i, item in enumerate(items):
            param = f"{where}[{i}]"
            if not isinstance(item, dict):
                raise InvalidRequest(f"'{param}' must be an object.", param=param)
            kind = item.get("type")
            if kind is None and "role" in item:
                kind = "message"
            if kind == "message":
                self.message(item, messages, param)
            elif kind in ("function_call", "custom_tool_call"):
                self.tool_call(item, messages, param, custom=kind == "custom_tool_call")
            elif kind in ("function_call_output", "custom_tool_call_output"):
                call_id = _str_field(item, "call_id", param)
                messages.append(
                    {"role": "tool", "tool_call_id": call_id, "content": self.tool_output(item.get("output"), param)}
                )
            elif kind == "reasoning":
                self.reasoning_item(item, param)
            elif kind == "tool_search_call":
                pass  # the search the model made: what it found is offered directly (tool_search_output)
            elif kind == "tool_search_output":
                loaded = item.get("tools")
                if not isinstance(loaded, list):
                    raise InvalidRequest(f"'{param}.tools' must be an array.", param=f"{param}.tools")
                self.loaded += [(f"{param}.tools[{j}]", tool) for j, tool in enumerate(loaded)]
            elif kind == "item_reference":
                raise InvalidRequest(
                    f"'{param}': item_reference must be resolved to the item it names before translation.",
                    param=param,
                )
            elif kind is None:
                raise InvalidRequest(f"'{param}' has no 'type' (and no 'role').", param=f"{param}.type")
            else:
                raise InvalidRequest(f"'{param}.type' {kind!r} is not an input item type the bridge supports.",
                                     param=f"{param}.type")

    def message(self, item: Mapping[str, object], messages: list[ChatMessage], param: str) -> None:
        role = item.get("role")
        if role not in _ROLES:
            raise InvalidRequest(
                f"'{param}.role' must be one of user, assistant, system, developer; got {role!r}.",
                param=f"{param}.role",
            )
        content = item.get("content")
        chat_content: ChatContent
        if isinstance(content, str):
            chat_content = content
        elif isinstance(content, list):
            chat_content = self.parts(content, f"{param}.content", str(role))
        else:
            raise InvalidRequest(f"'{param}.content' must be a string or an array of content parts.",
                                 param=f"{param}.content")
        if role == "assistant":
            # Assistant text followed by function_call items becomes one chat message.
            messages.append(self.assistant({"role": "assistant", "content": chat_content}))
            return
        self.reasoning.clear()  # reasoning belongs to the assistant turn right after it
        if role == "user":
            messages.append({"role": "user", "content": chat_content})
        elif role == "developer":
            messages.append(_system_message(self.opts.developer_role, chat_content))
        else:
            messages.append({"role": "system", "content": chat_content})

    def reasoning_item(self, item: Mapping[str, object], param: str) -> None:
        """Reasoning from an earlier turn: checked, and kept for the next assistant message when the
        upstream wants previous reasoning back (`Options.reasoning_back`); dropped otherwise."""
        text = ""
        blob = item.get("encrypted_content")
        if isinstance(blob, str) and blob and self.unseal is not None:
            text = self.unseal(blob, f"{param}.encrypted_content")  # verified even when not sent back
        content = item.get("content")
        if isinstance(content, list):
            parts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
            text = "".join(parts) or text
        summary = item.get("summary")
        if not text and isinstance(summary, list):
            texts = [p.get("text") for p in summary if isinstance(p, dict)]
            text = "\n\n".join(t for t in texts if isinstance(t, str))
        if text and self.opts.reasoning_back:
            self.reasoning.append(text)

    def assistant(self, message: ChatAssistantMessage) -> ChatAssistantMessage:
        back = self.opts.reasoning_back
        if self.reasoning and back:  # only collected when `back` names a field
            message[back] = "\n\n".join(self.reasoning)
            self.reasoning.clear()
        return message

    def parts(self, parts: list[object], param: str, role: str) -> ChatContent:
        out: list[ChatContentPart] = []
        for i, part in enumerate(parts):
            p = f"{param}[{i}]"
            if not isinstance(part, dict):
                raise InvalidRequest(f"'{p}' must be an object.", param=p)
            kind = part.get("type")
            if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
                out.append({"type": "text", "text": _str_field(part, "text", p)})
            elif kind == "refusal":
                out.append({"type": "text", "text": _str_field(part, "refusal", p)})
            elif kind == "input_image":
                url = part.get("image_url")
                if not isinstance(url, str):
                    if part.get("file_id"):
                        raise InvalidRequest(f"'{p}.file_id': images by file id are not supported; send image_url.",
                                             param=f"{p}.file_id")
                    raise InvalidRequest(f"'{p}.image_url' must be a URL or data URL string.", param=f"{p}.image_url")
                image: ImageURL = {"url": url}
                if part.get("detail") is not None:
                    image["detail"] = part["detail"]  # unchecked
                out.append({"type": "image_url", "image_url": image})
            elif kind == "input_file":
                file: ChatFile = {}
                for name in _FILE_FIELDS:
                    if part.get(name) is not None:
                        file[name] = part[name]  # unchecked
                if part.get("file_url") is not None:
                    raise InvalidRequest(f"'{p}.file_url' is not supported; send file_data.", param=f"{p}.file_url")
                if not file:
                    raise InvalidRequest(f"'{p}' needs file_data or file_id.", param=p)
                out.append({"type": "file", "file": file})
            elif kind == "input_audio":
                audio = obj(part.get("input_audio"))
                data, audio_format = audio.get("data"), audio.get("format")
                if not isinstance(data, str) or not isinstance(audio_format, str):
                    raise InvalidRequest(f"'{p}.input_audio' must be an object with data and format.",
                                         param=f"{p}.input_audio")
                out.append({"type": "input_audio", "input_audio": {"data": data, "format": audio_format}})
            else:
                raise InvalidRequest(f"'{p}.type' {kind!r} is not a content part type the bridge supports.",
                                     param=f"{p}.type")
        if all(part["type"] == "text" for part in out) and (role != "user" or len(out) == 1):
            # Plain text as a string: the form every chat template accepts (assistant and system
            # content as arrays trip many of them).
            return "\n".join(part["text"] for part in out if part["type"] == "text")
        return out

    def tool_call(self, item: Mapping[str, object], messages: list[ChatMessage], param: str, *, custom: bool) -> None:
        call_id = _str_field(item, "call_id", param)
        name = _str_field(item, "name", param)
        if custom:
            arguments = orjson.dumps({"input": _str_field(item, "input", param)}).decode()
        else:
            arguments = _str_field(item, "arguments", param)
        call: ChatToolCall = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant" and isinstance(last.get("content"), str | type(None)):
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append(self.assistant({"role": "assistant", "content": None, "tool_calls": [call]}))

    def tool_output(self, output: object, param: str) -> ChatContent:
        if isinstance(output, str):
            return output
        if isinstance(output, list):
            return self.parts(output, f"{param}.output", "tool")
        raise InvalidRequest(f"'{param}.output' must be a string or an array of content parts.",
                             param=f"{param}.output")

    # ---- tools -------------------------------------------------------------------------------

    def tools(self, tools: list[object]) -> list[ChatFunctionTool]:
        """The request's tools, then the tools that tool_search_output items loaded, as chat tools.

        Deferred tools (`defer_loading: true`, top-level or in a namespace) are offered like any other: a
        chat model has no tool search to load them with. A loaded tool that is already offered (the same
        name, from `tools` or an earlier search) is not offered twice."""
        out: list[ChatFunctionTool] = []
        for i, tool in enumerate(tools):
            self.tool(tool, f"tools[{i}]", out)
        offered = {t["function"]["name"] for t in out}
        for param, tool in self.loaded:
            found: list[ChatFunctionTool] = []
            self.tool(tool, param, found, loaded=True)
            for t in found:
                if t["function"]["name"] not in offered:
                    offered.add(t["function"]["name"])
                    out.append(t)
        return out

    def tool(self, tool: object, p: str, out: list[ChatFunctionTool], *, loaded: bool = False) -> None:
        if not isinstance(tool, dict):
            raise InvalidRequest(f"'{p}' must be an object.", param=p)
        kind = tool.get("type")
        if kind == "function":
            out.append(_function_tool(tool, p))
        elif kind == "custom":
            out.append(_custom_tool(tool, p))
        elif kind == "namespace":
            inner = tool.get("tools")
            if not isinstance(inner, list):
                raise InvalidRequest(f"'{p}.tools' must be an array.", param=f"{p}.tools")
            for j, sub in enumerate(inner):
                sp = f"{p}.tools[{j}]"
                if not isinstance(sub, dict) or sub.get("type", "function") != "function":
                    self.drop(sp, "only function tools are supported inside a namespace")
                    continue
                out.append(_function_tool(sub, sp))
        elif kind == "tool_search" and not loaded:
            execution = tool.get("execution")
            if execution == "client":
                # Codex runs it over tools it has not sent (its MCP tools, until searched for): dropping it
                # hides those from the model, so it is reported (and refused in strict mode).
                self.drop(p, "the client's tool search cannot be offered to a chat model; the tools it "
                             "loaded earlier (tool_search_output) are offered directly")
            elif execution not in (None, "server"):
                raise InvalidRequest(f"'{p}.execution' must be server or client.", param=f"{p}.execution")
            # A hosted tool search only loads this request's own deferred tools, and those are all offered
            # directly: dropping it loses nothing, so it is neither reported nor refused.
        elif isinstance(kind, str) and kind.startswith(_BUILTIN_TOOLS) and not loaded:
            self.drop(p, f"built-in tool {kind!r} cannot run on a chat upstream")
        else:
            raise InvalidRequest(f"'{p}.type' {kind!r} is not a tool type the bridge supports.",
                                 param=f"{p}.type")

    def tool_choice(self, choice: object, chat: ChatRequest) -> None:
        if choice is None:
            return
        if isinstance(choice, str):
            mode = _TOOL_CHOICE_MODES.get(choice)
            if mode is None:
                raise InvalidRequest("'tool_choice' must be auto, none, required or an object.", param="tool_choice")
            if "tools" in chat:
                chat["tool_choice"] = mode
            return
        if not isinstance(choice, dict):
            raise InvalidRequest("'tool_choice' must be a string or an object.", param="tool_choice")
        kind = choice.get("type")
        if kind in ("function", "custom"):
            name = _str_field(choice, "name", "tool_choice")
            chat["tool_choice"] = {"type": "function", "function": {"name": name}}
        elif kind == "allowed_tools":
            mode = choice.get("mode", "auto")
            allowed = choice.get("tools")
            if mode not in ("auto", "required") or not isinstance(allowed, list):
                raise InvalidRequest("'tool_choice' allowed_tools needs mode auto|required and a tools array.",
                                     param="tool_choice")
            names = {t.get("name") for t in allowed if isinstance(t, dict)}
            chat["tools"] = [t for t in chat.get("tools", []) if t["function"]["name"] in names]
            if not chat["tools"]:
                del chat["tools"]
            else:
                chat["tool_choice"] = mode
        else:
            self.drop("tool_choice", f"tool_choice of type {kind!r} cannot be expressed to a chat upstream")

    def text(self, text: object, chat: ChatRequest) -> None:
        if text is None:
            return
        if not isinstance(text, dict):
            raise InvalidRequest("'text' must be an object.", param="text")
        fmt = text.get("format")
        if fmt is not None:
            if not isinstance(fmt, dict):
                raise InvalidRequest("'text.format' must be an object.", param="text.format")
            kind = fmt.get("type")
            if kind == "json_schema":
                name = fmt.get("name")
                schema = fmt.get("schema")
                if not isinstance(name, str) or not isinstance(schema, dict):
                    raise InvalidRequest("'text.format' json_schema needs 'name' and 'schema'.", param="text.format")
                spec: ChatJSONSchema = {"name": name, "schema": schema}
                for option in _SCHEMA_OPTIONS:
                    if fmt.get(option) is not None:
                        spec[option] = fmt[option]  # unchecked
                chat["response_format"] = {"type": "json_schema", "json_schema": spec}
            elif kind == "json_object":
                chat["response_format"] = {"type": "json_object"}
            elif kind != "text":
                raise InvalidRequest(f"'text.format.type' {kind!r} must be text, json_object or json_schema.",
                                     param="text.format.type")
        verbosity = text.get("verbosity")
        if verbosity is not None:
            if verbosity not in ("low", "medium", "high"):
                raise InvalidRequest("'text.verbosity' must be low, medium or high.", param="text.verbosity")
            if "verbosity" in self.opts.passthrough:
                chat["verbosity"] = verbosity
            else:
                self.drop("text.verbosity", "this upstream is not configured to take verbosity (BRIDGE_PASSTHROUGH)")


def _str_field(obj: Mapping[str, object], name: str, param: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise InvalidRequest(f"'{param}.{name}' must be a string.", param=f"{param}.{name}")
    return value


def _function_tool(tool: object, param: str) -> ChatFunctionTool:
    """Only the chat fields go upstream: `defer_loading` (and other Responses-only fields) stay behind."""
    assert isinstance(tool, dict)  # checked by the caller; narrowed here for what is forwarded unchecked
    fn: ChatFunctionDefinition = {"name": _str_field(tool, "name", param)}
    if tool.get("description") is not None:
        fn["description"] = tool["description"]  # unchecked
    params = tool.get("parameters")
    fn["parameters"] = params if isinstance(params, dict) else {"type": "object", "properties": {}}
    if tool.get("strict") is not None:
        fn["strict"] = tool["strict"]  # unchecked
    return {"type": "function", "function": fn}


def _custom_tool(tool: Mapping[str, object], param: str) -> ChatFunctionTool:
    description = tool.get("description") or ""
    if not isinstance(description, str):
        raise InvalidRequest(f"'{param}.description' must be a string.", param=f"{param}.description")
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar":
        description += (
            f"\n\nThe `input` must follow this {fmt.get('syntax', '')} grammar:\n{fmt.get('definition', '')}"
        )
    return {
        "type": "function",
        "function": {
            "name": _str_field(tool, "name", param),
            "description": description.strip(),
            "parameters": {
                "type": "object",
                "properties": {"input": {"type": "string", "description": "The raw tool input."}},
                "required": ["input"],
            },
        },
    }


def tool_search_loads(request: Mapping[str, object]) -> list[object]:
    """The tool definitions that the `tool_search_output` items of the input loaded, in order; unchecked
    (`to_chat_request` checks them)."""
    items = request.get("input")
    loaded: list[object] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("type") == "tool_search_output" and isinstance(item.get("tools"), list):
            loaded += item["tools"]
    return loaded
