"""The Chat Completions API on the wire, as TypedDicts. Shapes only, no logic.

The reference is the OpenAI Python SDK (`openai.types.chat`, `openai.types.completion_usage`). Two kinds
of shape live here:

- The chat request (`ChatRequest`): what the bridge builds and sends upstream, typed as it sends it.
- The answer (`ChatCompletion`, `ChatChunk`): what an upstream sends. It is not trusted to keep to these
  shapes (servers differ, and some are wrong): the translators check every value they read with
  isinstance. The types say what a well-formed answer holds, and what the translators look for.

Beyond the SDK: `reasoning_content` (DeepSeek, vLLM, llama.cpp) and `reasoning` (OpenRouter, Ollama) carry
an upstream's reasoning text in messages and deltas.
"""

from collections.abc import Sequence
from typing import Literal, NotRequired, TypedDict

type FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]

# ---- the chat request (what the bridge sends) ----------------------------------------------------


class ChatTextPart(TypedDict):
    type: Literal["text"]
    text: str


class ImageURL(TypedDict):
    url: str
    detail: NotRequired[Literal["auto", "low", "high", "original"]]


class ChatImagePart(TypedDict):
    type: Literal["image_url"]
    image_url: ImageURL


class ChatInputAudio(TypedDict):
    data: str
    # OpenAI takes "wav" and "mp3"; the bridge passes on what the client named, for servers that take more.
    format: str


class ChatInputAudioPart(TypedDict):
    type: Literal["input_audio"]
    input_audio: ChatInputAudio


class ChatFile(TypedDict, total=False):
    file_data: str
    file_id: str
    filename: str


class ChatFilePart(TypedDict):
    type: Literal["file"]
    file: ChatFile


class ChatRefusalPart(TypedDict):
    type: Literal["refusal"]
    refusal: str


type ChatContentPart = ChatTextPart | ChatImagePart | ChatInputAudioPart | ChatFilePart
# The SDK allows text parts only in system, developer and tool messages; the bridge forwards the parts a
# client put there (an image in a tool output, say) and lets the upstream judge them.
type ChatContent = str | list[ChatContentPart]


class ChatSystemMessage(TypedDict):
    role: Literal["system"]
    content: ChatContent
    name: NotRequired[str]


class ChatDeveloperMessage(TypedDict):
    role: Literal["developer"]
    content: ChatContent
    name: NotRequired[str]


class ChatUserMessage(TypedDict):
    role: Literal["user"]
    content: ChatContent
    name: NotRequired[str]


class ChatFunctionCall(TypedDict):
    name: str
    arguments: str


class ChatToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: ChatFunctionCall


class ChatAssistantMessage(TypedDict):
    role: Literal["assistant"]
    content: NotRequired[str | Sequence[ChatContentPart | ChatRefusalPart] | None]
    refusal: NotRequired[str | None]
    tool_calls: NotRequired[list[ChatToolCall]]
    # Earlier reasoning sent back, for upstreams that want it (`Options.reasoning_back`).
    reasoning_content: NotRequired[str]
    reasoning: NotRequired[str]
    name: NotRequired[str]


class ChatToolMessage(TypedDict):
    role: Literal["tool"]
    tool_call_id: str
    content: ChatContent


class ChatFunctionMessage(TypedDict):
    """Deprecated by OpenAI in favour of tool messages; listed for completeness, never built."""

    role: Literal["function"]
    name: str
    content: str | None


type ChatMessage = (
    ChatSystemMessage | ChatDeveloperMessage | ChatUserMessage | ChatAssistantMessage | ChatToolMessage
    | ChatFunctionMessage
)


class ChatFunctionDefinition(TypedDict):
    name: str
    description: NotRequired[str]
    parameters: NotRequired[dict[str, object]]
    strict: NotRequired[bool | None]


class ChatFunctionTool(TypedDict):
    type: Literal["function"]
    function: ChatFunctionDefinition


class ChatNamedFunction(TypedDict):
    name: str


class ChatNamedToolChoice(TypedDict):
    type: Literal["function"]
    function: ChatNamedFunction


type ChatToolChoiceMode = Literal["none", "auto", "required"]
type ChatToolChoice = ChatToolChoiceMode | ChatNamedToolChoice


class ChatJSONSchema(TypedDict):
    name: str
    schema: dict[str, object]
    description: NotRequired[str]
    strict: NotRequired[bool | None]


class ChatResponseFormatText(TypedDict):
    type: Literal["text"]


class ChatResponseFormatJSONObject(TypedDict):
    type: Literal["json_object"]


class ChatResponseFormatJSONSchema(TypedDict):
    type: Literal["json_schema"]
    json_schema: ChatJSONSchema


type ChatResponseFormat = ChatResponseFormatText | ChatResponseFormatJSONObject | ChatResponseFormatJSONSchema


class ChatStreamOptions(TypedDict, total=False):
    include_usage: bool


class ChatRequest(TypedDict):
    """`POST /v1/chat/completions`: the fields the bridge may send."""

    model: str
    messages: list[ChatMessage]
    tools: NotRequired[list[ChatFunctionTool]]
    tool_choice: NotRequired[ChatToolChoice]
    parallel_tool_calls: NotRequired[bool]
    response_format: NotRequired[ChatResponseFormat]
    verbosity: NotRequired[Literal["low", "medium", "high"]]
    # Any string the client sent: upstreams know efforts the SDK does not list.
    reasoning_effort: NotRequired[str]
    max_tokens: NotRequired[int]
    max_completion_tokens: NotRequired[int]
    temperature: NotRequired[float]
    top_p: NotRequired[float]
    presence_penalty: NotRequired[float]
    frequency_penalty: NotRequired[float]
    user: NotRequired[str]
    logprobs: NotRequired[bool]
    top_logprobs: NotRequired[int]
    stream: NotRequired[bool]
    stream_options: NotRequired[ChatStreamOptions]
    service_tier: NotRequired[str]
    safety_identifier: NotRequired[str]
    prompt_cache_key: NotRequired[str]
    prompt_cache_retention: NotRequired[str]


# ---- the answer (what an upstream sends) ---------------------------------------------------------


class ChatTopLogprob(TypedDict):
    token: str
    logprob: float
    bytes: NotRequired[list[int] | None]


class ChatTokenLogprob(TypedDict):
    token: str
    logprob: float
    bytes: NotRequired[list[int] | None]
    top_logprobs: list[ChatTopLogprob]


class ChatChoiceLogprobs(TypedDict, total=False):
    content: list[ChatTokenLogprob] | None
    refusal: list[ChatTokenLogprob] | None


class PromptTokensDetails(TypedDict, total=False):
    cached_tokens: int | None
    cache_write_tokens: int | None
    audio_tokens: int | None
    image_tokens: int | None
    text_tokens: int | None


class CompletionTokensDetails(TypedDict, total=False):
    reasoning_tokens: int | None
    accepted_prediction_tokens: int | None
    rejected_prediction_tokens: int | None
    audio_tokens: int | None
    text_tokens: int | None


class ChatUsage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: NotRequired[PromptTokensDetails | None]
    completion_tokens_details: NotRequired[CompletionTokensDetails | None]


class ChatCompletionMessage(TypedDict):
    role: Literal["assistant"]
    content: NotRequired[str | None]
    refusal: NotRequired[str | None]
    tool_calls: NotRequired[list[ChatToolCall] | None]
    reasoning_content: NotRequired[str | None]
    reasoning: NotRequired[str | None]


class ChatCompletionChoice(TypedDict):
    index: int
    message: ChatCompletionMessage
    finish_reason: FinishReason | None
    logprobs: NotRequired[ChatChoiceLogprobs | None]


class ChatCompletion(TypedDict):
    """A non-stream answer."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatCompletionChoice]
    usage: NotRequired[ChatUsage | None]
    service_tier: NotRequired[str | None]
    system_fingerprint: NotRequired[str | None]


class ChatFunctionCallDelta(TypedDict, total=False):
    name: str | None
    # A few servers send the arguments parsed, as an object; the stream machine re-serialises them.
    arguments: str | dict[str, object] | None


class ChatToolCallDelta(TypedDict):
    index: int
    id: NotRequired[str | None]
    type: NotRequired[Literal["function"] | None]
    function: NotRequired[ChatFunctionCallDelta | None]


class ChatDelta(TypedDict, total=False):
    role: Literal["developer", "system", "user", "assistant", "tool"] | None
    content: str | None
    refusal: str | None
    reasoning_content: str | None
    reasoning: str | None
    tool_calls: list[ChatToolCallDelta] | None


class ChatChunkChoice(TypedDict):
    index: int
    delta: ChatDelta
    finish_reason: NotRequired[FinishReason | None]
    logprobs: NotRequired[ChatChoiceLogprobs | None]


class ChatChunk(TypedDict):
    """One streamed chunk. The stream machine reads `choices` and `usage` only: a chunk made from a
    non-stream completion (`completion_to_chunk`) has nothing else."""

    choices: list[ChatChunkChoice]
    usage: NotRequired[ChatUsage | None]
    id: NotRequired[str]
    object: NotRequired[Literal["chat.completion.chunk"]]
    created: NotRequired[int]
    model: NotRequired[str]
    service_tier: NotRequired[str | None]
    system_fingerprint: NotRequired[str | None]
