"""Up, the reverse direction: a Response object -> a chat completion. Pure.

The Response comes from the upstream and is not trusted to have its type: every value read is checked,
and what is not as expected is skipped (or, where the answer would be wrong without it, is an
`UpstreamProtocolError`). The stream machine (`stream.py`) reads its terminal event's Response with the same
`read_output`, so a stream and the non-stream answer for the same Response say the same.

- message items: `output_text` parts -> `content` (joined), `refusal` parts -> `refusal`;
- `reasoning` items -> `reasoning_content`: each item's `reasoning_text` parts, or its summary where it has
  none (OpenAI shows summaries only), pieces joined by a blank line;
- `function_call` items -> `tool_calls` with `id` = the item's `call_id` (never the item's own `id`: the
  client answers with it, and a Responses upstream knows the call by `call_id`);
- `status`: `incomplete` -> `finish_reason` `length` (`max_output_tokens`) or `content_filter`; completed ->
  `tool_calls` when the answer has any, else `stop`; `failed` -> an error, not a completion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ...errors import UpstreamError, UpstreamProtocolError
from ...wire.chat import (
    ChatCompletion,
    ChatCompletionMessage,
    ChatTokenLogprob,
    ChatToolCall,
    ChatTopLogprob,
    ChatUsage,
    FinishReason,
)

NewId = Callable[[str], str]
Clock = Callable[[], int]
REASONING_SEPARATOR = "\n\n"
# The upstream's error codes that are about the request the client made (WIRE.md: fitting HTTP statuses).
_CLIENT_ERRORS = frozenset({"invalid_prompt", "context_length_exceeded", "empty_image_file", "image_too_large",
                            "image_parse_error", "image_content_policy_violation", "invalid_image_format",
                            "invalid_base64_image", "invalid_image_url", "image_too_small",
                            "image_file_too_large", "unsupported_image_media_type", "image_file_not_found",
                            "failed_to_download_image", "invalid_image", "invalid_image_mode"})
_STATUSES = {"rate_limit_exceeded": 429, "server_shutting_down": 503, "upstream_timeout": 504}


@dataclass(slots=True)
class Call:
    call_id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Output:
    """What a Response's output says, in chat terms."""

    text: str = ""
    refusal: str = ""
    reasoning: str = ""
    calls: list[Call] = field(default_factory=list)
    logprobs: list[ChatTokenLogprob] = field(default_factory=list)


def to_chat_completion(response: Mapping[str, object], *, model: str, new_id: NewId, clock: Clock) -> ChatCompletion:
    """Translate the upstream's Response into the chat completion a chat client expects.

    `model` is the name the client is answered with; `new_id("chatcmpl")` gives the completion's id and
    `clock()` its `created`. Raises an `UpstreamError` when the response failed (its `status` and `code`
    say why: the caller answers with it), and `UpstreamProtocolError` when it is not a finished Response.
    """
    status = response.get("status")
    if status == "failed":
        raise upstream_failure(response.get("error"))
    if status not in (None, "completed", "incomplete"):
        raise UpstreamProtocolError(f"The upstream answered with a response in status {status!r}, not a finished one.")
    out = read_output(response.get("output"))
    message: ChatCompletionMessage = {"role": "assistant", "content": content_of(out), "refusal": out.refusal or None}
    if out.calls:
        message["tool_calls"] = [_tool_call(c) for c in out.calls]
    if out.reasoning:
        message["reasoning_content"] = out.reasoning
    completion: ChatCompletion = {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": clock(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(response, bool(out.calls)),
                     "logprobs": {"content": out.logprobs, "refusal": None} if out.logprobs else None}],
    }
    usage = usage_down(response.get("usage"))
    if usage is not None:
        completion["usage"] = usage
    return completion


def content_of(out: Output) -> str | None:
    """The message's `content`: null when the answer is tool calls or a refusal and has no text, as OpenAI
    answers; otherwise a string, empty when the model said nothing (cut off while reasoning, say)."""
    if out.text or not (out.calls or out.refusal):
        return out.text
    return None


def _tool_call(call: Call) -> ChatToolCall:
    return {"id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def read_output(output: object) -> Output:
    """The chat answer in a Response's `output` items (unchecked JSON)."""
    if not isinstance(output, list):
        raise UpstreamProtocolError("The upstream's response has no 'output' array.")
    out = Output()
    pieces: list[str] = []
    for item in output:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in _list(item.get("content")):
                if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    out.text += str(part["text"])
                    out.logprobs += chat_logprobs(part.get("logprobs"))
                elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                    out.refusal += str(part["refusal"])
        elif kind == "reasoning":
            texts = [str(p["text"]) for p in _list(item.get("content"))
                     if p.get("type") == "reasoning_text" and isinstance(p.get("text"), str)]
            if not any(texts):
                texts = [str(p["text"]) for p in _list(item.get("summary")) if isinstance(p.get("text"), str)]
            pieces += [t for t in texts if t]
        elif kind == "function_call":
            out.calls.append(read_call(item))
        # Other items (a built-in tool's call, a custom tool call) have no chat form: a chat client offered
        # neither, so an upstream that sends one anyway is not answered with it.
    out.reasoning = REASONING_SEPARATOR.join(pieces)
    return out


def read_call(item: Mapping[str, object]) -> Call:
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments", "")
    if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
        raise UpstreamProtocolError("The upstream sent a function_call item without its call_id or name.")
    return Call(call_id, name, arguments if isinstance(arguments, str) else "")


def _list(value: object) -> list[Mapping[str, object]]:
    """The objects in `value`, if it is a JSON array."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def chat_logprobs(logprobs: object) -> list[ChatTokenLogprob]:
    """Responses logprobs (an output_text part's, or a text delta's) -> chat token logprobs."""
    out: list[ChatTokenLogprob] = []
    for lp in _list(logprobs):
        token, logprob = lp.get("token"), lp.get("logprob")
        if not isinstance(token, str) or not _is_number(logprob):
            continue
        tops: list[ChatTopLogprob] = []
        for top in _list(lp.get("top_logprobs")):
            t, tl = top.get("token"), top.get("logprob")
            if isinstance(t, str) and isinstance(tl, int | float) and not isinstance(tl, bool):
                tops.append({"token": t, "logprob": tl, "bytes": _bytes(top.get("bytes"), t)})
        assert isinstance(logprob, int | float)
        out.append({"token": token, "logprob": logprob, "bytes": _bytes(lp.get("bytes"), token), "top_logprobs": tops})
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bytes(value: object, token: str) -> list[int]:
    """A token's UTF-8 bytes: as sent, or (OpenAI's delta events leave them out) from the token itself."""
    if isinstance(value, list) and all(isinstance(b, int) for b in value):
        return [int(b) for b in value]
    return list(token.encode())


def finish_reason(response: Mapping[str, object], has_calls: bool) -> FinishReason:
    if response.get("status") == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if has_calls else "stop"


def usage_down(usage: object) -> ChatUsage | None:
    """Responses usage -> chat usage, with the cached and reasoning token details (zeros when not given)."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
    total = usage.get("total_tokens")
    input_details, output_details = usage.get("input_tokens_details"), usage.get("output_tokens_details")
    cached = _int(input_details.get("cached_tokens")) if isinstance(input_details, dict) else 0
    reasoning = _int(output_details.get("reasoning_tokens")) if isinstance(output_details, dict) else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total if isinstance(total, int) and not isinstance(total, bool) else prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def upstream_failure(error: object, where: Literal["response", "stream"] = "response") -> UpstreamError:
    """The error a chat client gets for a failed Response (its `error`) or a stream's `error` event.

    The status says whose fault it is, as OpenAI's would: 429 for a rate limit, 400 for a request the model
    could not take (an unreadable image, a prompt too long), 502 for the rest, which is the upstream's."""
    code = message = None
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = error.get("message") if isinstance(error.get("message"), str) else None
    code = code or "upstream_error"
    text = message or ("The upstream response failed." if where == "response" else "The upstream stream failed.")
    status = _STATUSES.get(code, 400 if code in _CLIENT_ERRORS else 502)
    failure = UpstreamError(f"Upstream error: {text}", code=code, status=status)
    if status == 400:
        failure.type = "invalid_request_error"
    return failure
