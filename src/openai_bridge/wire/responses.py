"""The Responses API on the wire, as TypedDicts. Shapes only, no logic.

The reference is the OpenAI Python SDK (`openai.types.responses`); names follow it so that a field can
be looked up there. Two kinds of shape live here:

- What the bridge builds (the `Response` object, its output items, the stream events): typed as the
  bridge sends them. A field the API may omit but the bridge always sends is required here, because
  clients validate the object strictly (WIRE.md) and a missing field breaks them.
- What a client sends (`ResponsesRequest` and its items, parts and tools): the shape a well-formed
  request has, per the SDK's `*Param` types. The bridge never trusts it: `to_chat_request` parses the
  body as a `Mapping[str, object]` and checks every value it reads.
"""

from typing import Literal, NotRequired, TypedDict

type ItemStatus = Literal["in_progress", "completed", "incomplete"]
type ResponseStatus = Literal["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"]
type InputRole = Literal["user", "assistant", "system", "developer"]

# ---- output items and their parts (what the bridge builds) --------------------------------------


class TopLogprob(TypedDict):
    token: str
    logprob: float
    bytes: list[int]


class Logprob(TypedDict):
    token: str
    logprob: float
    bytes: list[int]
    top_logprobs: list[TopLogprob]


class ResponseOutputText(TypedDict):
    type: Literal["output_text"]
    text: str
    # Always empty: a chat upstream's url_citation annotations are not mapped.
    annotations: list[dict[str, object]]
    logprobs: list[Logprob]


class ResponseOutputRefusal(TypedDict):
    type: Literal["refusal"]
    refusal: str


type MessageContent = ResponseOutputText | ResponseOutputRefusal


class ResponseOutputMessage(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    status: ItemStatus
    content: list[MessageContent]


class ReasoningText(TypedDict):
    type: Literal["reasoning_text"]
    text: str


class SummaryText(TypedDict):
    type: Literal["summary_text"]
    text: str


class ResponseReasoningItem(TypedDict):
    id: str
    type: Literal["reasoning"]
    # The reasoning text mirrored, when the client asked for a summary (a chat upstream has none).
    summary: list[SummaryText]
    content: list[ReasoningText]
    status: ItemStatus
    # Only when the client included `reasoning.encrypted_content`: the text, sealed by the bridge.
    encrypted_content: NotRequired[str]


class ResponseFunctionToolCall(TypedDict):
    id: str
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    status: ItemStatus
    # The namespace tool this function was flattened from (Codex), when it was one.
    namespace: NotRequired[str]


class ResponseCustomToolCall(TypedDict):
    id: str
    type: Literal["custom_tool_call"]
    call_id: str
    name: str
    input: str
    # Not in the SDK's model (extra fields are accepted); the bridge sends it like every item's status.
    status: ItemStatus


type ResponseOutputItem = (
    ResponseReasoningItem | ResponseOutputMessage | ResponseFunctionToolCall | ResponseCustomToolCall
)

# ---- the create request (what a client sends) ---------------------------------------------------


class ResponseInputText(TypedDict):
    type: Literal["input_text"]
    text: str


class ResponseInputImage(TypedDict):
    type: Literal["input_image"]
    detail: NotRequired[Literal["low", "high", "auto", "original"]]
    image_url: NotRequired[str | None]
    file_id: NotRequired[str | None]


class ResponseInputFile(TypedDict):
    type: Literal["input_file"]
    file_data: NotRequired[str]
    file_id: NotRequired[str | None]
    file_url: NotRequired[str]
    filename: NotRequired[str]


class InputAudio(TypedDict):
    data: str
    format: Literal["mp3", "wav"]


class ResponseInputAudio(TypedDict):
    type: Literal["input_audio"]
    input_audio: InputAudio


class ResponseOutputTextParam(TypedDict):
    """An output_text part of an earlier assistant turn, as a client sends it back."""

    type: Literal["output_text"]
    text: str
    annotations: NotRequired[list[dict[str, object]]]
    logprobs: NotRequired[list[Logprob]]


# Parts of a message item in `input`: the input kinds, and the output kinds of an earlier assistant turn.
type ResponseInputContent = (
    ResponseInputText | ResponseInputImage | ResponseInputFile | ResponseInputAudio | ResponseOutputTextParam
    | ResponseOutputRefusal
)


class ResponseInputMessage(TypedDict):
    # `type` may be left out: an object with a `role` is a message (the SDK's EasyInputMessage).
    type: NotRequired[Literal["message"]]
    role: InputRole
    content: str | list[ResponseInputContent]
    id: NotRequired[str]
    status: NotRequired[ItemStatus]


class ResponseReasoningItemParam(TypedDict):
    type: Literal["reasoning"]
    id: str
    summary: list[SummaryText]
    content: NotRequired[list[ReasoningText]]
    encrypted_content: NotRequired[str | None]
    status: NotRequired[ItemStatus]


class ResponseFunctionToolCallParam(TypedDict):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: NotRequired[str]
    namespace: NotRequired[str]
    status: NotRequired[ItemStatus]


class ResponseCustomToolCallParam(TypedDict):
    type: Literal["custom_tool_call"]
    call_id: str
    name: str
    input: str
    id: NotRequired[str]
    namespace: NotRequired[str]
    status: NotRequired[ItemStatus]


class FunctionCallOutput(TypedDict):
    type: Literal["function_call_output"]
    call_id: str
    output: str | list[ResponseInputContent]
    id: NotRequired[str | None]
    status: NotRequired[ItemStatus | None]


class CustomToolCallOutput(TypedDict):
    type: Literal["custom_tool_call_output"]
    call_id: str
    output: str | list[ResponseInputContent]
    id: NotRequired[str]


class ItemReference(TypedDict):
    type: NotRequired[Literal["item_reference"] | None]
    id: str


type ResponseInputItem = (
    ResponseInputMessage | ResponseOutputMessage | ResponseReasoningItemParam | ResponseFunctionToolCallParam
    | ResponseCustomToolCallParam | FunctionCallOutput | CustomToolCallOutput | ItemReference | ToolSearchCall
    | ToolSearchOutput
)


class FunctionTool(TypedDict):
    type: Literal["function"]
    name: str
    description: NotRequired[str | None]
    parameters: NotRequired[dict[str, object] | None]
    strict: NotRequired[bool | None]
    # Loaded by a tool search rather than shown up front; a chat model is shown it up front.
    defer_loading: NotRequired[bool | None]


class CustomToolTextFormat(TypedDict):
    type: Literal["text"]


class CustomToolGrammarFormat(TypedDict):
    type: Literal["grammar"]
    syntax: Literal["lark", "regex"]
    definition: str


class CustomTool(TypedDict):
    """A freeform tool (Codex `apply_patch`): its input is raw text, not JSON arguments."""

    type: Literal["custom"]
    name: str
    description: NotRequired[str]
    format: NotRequired[CustomToolTextFormat | CustomToolGrammarFormat]


class NamespaceTool(TypedDict):
    """Codex groups tools under a namespace; a function call names its namespace on the way back."""

    type: Literal["namespace"]
    name: str
    description: str
    tools: list[FunctionTool | CustomTool]


class ToolSearchCall(TypedDict):
    """A tool search the model made (Codex runs it itself: `execution: client`). Not sent upstream."""

    type: Literal["tool_search_call"]
    arguments: object
    call_id: NotRequired[str | None]
    execution: NotRequired[Literal["server", "client"]]
    id: NotRequired[str]
    status: NotRequired[ItemStatus]


class ToolSearchOutput(TypedDict):
    """The tools a tool search loaded; the bridge offers them to the chat model as ordinary tools."""

    type: Literal["tool_search_output"]
    tools: list[FunctionTool | CustomTool | NamespaceTool]
    call_id: NotRequired[str | None]
    execution: NotRequired[Literal["server", "client"]]
    id: NotRequired[str]
    status: NotRequired[ItemStatus]


class ToolSearchTool(TypedDict):
    """Tool search over the deferred tools: hosted (`server`, the default) or run by the client (Codex)."""

    type: Literal["tool_search"]
    execution: NotRequired[Literal["server", "client"] | None]
    description: NotRequired[str | None]
    parameters: NotRequired[object]


# A built-in tool (`web_search`, `file_search`, `mcp`, ...): a chat upstream cannot run it; the bridge drops
# it with a warning (or refuses it in strict mode) and echoes it as the client sent it.
type BuiltinTool = dict[str, object]
type Tool = FunctionTool | CustomTool | NamespaceTool | ToolSearchTool | BuiltinTool


class ToolChoiceFunction(TypedDict):
    type: Literal["function"]
    name: str


class ToolChoiceCustom(TypedDict):
    type: Literal["custom"]
    name: str


class ToolChoiceAllowed(TypedDict):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[dict[str, object]]


type ToolChoiceMode = Literal["none", "auto", "required"]
# Other tool_choice objects (a built-in tool's type, `mcp`, ...) are dropped on the way down and echoed.
type ToolChoice = ToolChoiceMode | ToolChoiceFunction | ToolChoiceCustom | ToolChoiceAllowed | dict[str, object]


class TextFormatText(TypedDict):
    type: Literal["text"]


class TextFormatJSONObject(TypedDict):
    type: Literal["json_object"]


class TextFormatJSONSchema(TypedDict):
    type: Literal["json_schema"]
    name: str
    schema: dict[str, object]
    description: NotRequired[str]
    strict: NotRequired[bool | None]


type TextFormat = TextFormatText | TextFormatJSONObject | TextFormatJSONSchema
type Verbosity = Literal["low", "medium", "high"]


class TextConfigParam(TypedDict, total=False):
    format: TextFormat
    verbosity: Verbosity | None


type ReasoningSummaryMode = Literal["auto", "concise", "detailed"]


class ReasoningParam(TypedDict, total=False):
    # The SDK lists none/minimal/low/medium/high/xhigh/max; the bridge passes any string on to the upstream.
    effort: str | None
    summary: ReasoningSummaryMode | None


class ConversationParam(TypedDict):
    id: str


class ResponsesRequest(TypedDict, total=False):
    """`POST /v1/responses`: the fields the bridge knows (WIRE.md, "Request: Responses -> Chat")."""

    model: str
    input: str | list[ResponseInputItem]
    instructions: str | list[ResponseInputItem] | None
    stream: bool | None
    stream_options: dict[str, object] | None
    tools: list[Tool]
    tool_choice: ToolChoice
    parallel_tool_calls: bool | None
    text: TextConfigParam
    reasoning: ReasoningParam | None
    max_output_tokens: int | None
    max_tool_calls: int | None
    temperature: float | None
    top_p: float | None
    presence_penalty: float | None
    frequency_penalty: float | None
    top_logprobs: int | None
    # The bridge honours "message.output_text.logprobs" and "reasoning.encrypted_content".
    include: list[str] | None
    user: str
    metadata: dict[str, str] | None
    store: bool | None
    background: bool | None
    previous_response_id: str | None
    conversation: str | ConversationParam | None
    truncation: Literal["auto", "disabled"] | None
    service_tier: str | None
    safety_identifier: str | None
    prompt_cache_key: str | None
    prompt_cache_retention: Literal["in_memory", "24h"] | None
    # Codex sends it; not an OpenAI parameter. Accepted and ignored.
    client_metadata: dict[str, str] | None


# ---- the Response object ------------------------------------------------------------------------


class InputTokensDetails(TypedDict):
    cached_tokens: int
    cache_write_tokens: int


class OutputTokensDetails(TypedDict):
    reasoning_tokens: int


class ResponseUsage(TypedDict):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class ResponseError(TypedDict):
    # The SDK lists the codes OpenAI uses; the bridge also passes on its own and the upstream's.
    code: str
    message: str


class IncompleteDetails(TypedDict):
    reason: Literal["max_output_tokens", "content_filter"]


class ReasoningConfig(TypedDict):
    effort: str | None
    summary: ReasoningSummaryMode | None


class TextConfig(TypedDict):
    # The client's format, echoed as sent: to_chat_request checks the fields the bridge uses.
    format: TextFormat | dict[str, object]
    verbosity: Verbosity


class Response(TypedDict):
    """The Response object: every request setting echoed with its effective value, none left out."""

    id: str
    object: Literal["response"]
    created_at: int
    status: ResponseStatus
    background: bool
    completed_at: int | None
    conversation: ConversationParam | None
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    instructions: str | list[ResponseInputItem] | None
    max_output_tokens: int | None
    max_tool_calls: int | None
    metadata: dict[str, str]
    model: str
    output: list[ResponseOutputItem]
    parallel_tool_calls: bool
    previous_response_id: str | None
    prompt_cache_key: str | None
    reasoning: ReasoningConfig
    safety_identifier: str | None
    service_tier: str
    store: bool
    temperature: float
    text: TextConfig
    tool_choice: ToolChoice
    tools: list[Tool]
    top_logprobs: int
    top_p: float
    presence_penalty: float
    frequency_penalty: float
    truncation: Literal["auto", "disabled"]
    usage: ResponseUsage | None
    user: str | None


# ---- stream events (WIRE.md, "Stream grammar") ---------------------------------------------------
# `sequence_number` is NotRequired only because an event is built before the stream machine's single
# `_emit` stamps it: every event the machine hands out carries it.


class ResponseCreatedEvent(TypedDict):
    type: Literal["response.created"]
    response: Response
    sequence_number: NotRequired[int]


class ResponseInProgressEvent(TypedDict):
    type: Literal["response.in_progress"]
    response: Response
    sequence_number: NotRequired[int]


class ResponseCompletedEvent(TypedDict):
    type: Literal["response.completed"]
    response: Response
    sequence_number: NotRequired[int]


class ResponseIncompleteEvent(TypedDict):
    type: Literal["response.incomplete"]
    response: Response
    sequence_number: NotRequired[int]


class ResponseFailedEvent(TypedDict):
    type: Literal["response.failed"]
    response: Response
    sequence_number: NotRequired[int]


class ResponseOutputItemAddedEvent(TypedDict):
    type: Literal["response.output_item.added"]
    output_index: int
    item: ResponseOutputItem
    sequence_number: NotRequired[int]


class ResponseOutputItemDoneEvent(TypedDict):
    type: Literal["response.output_item.done"]
    output_index: int
    item: ResponseOutputItem
    sequence_number: NotRequired[int]


class ResponseContentPartAddedEvent(TypedDict):
    type: Literal["response.content_part.added"]
    item_id: str
    output_index: int
    content_index: int
    part: MessageContent
    sequence_number: NotRequired[int]


class ResponseContentPartDoneEvent(TypedDict):
    type: Literal["response.content_part.done"]
    item_id: str
    output_index: int
    content_index: int
    part: MessageContent
    sequence_number: NotRequired[int]


class ResponseTextDeltaEvent(TypedDict):
    type: Literal["response.output_text.delta"]
    item_id: str
    output_index: int
    content_index: int
    delta: str
    # The SDK's delta-event logprob has no `bytes`; the bridge sends the output_text part's shape.
    logprobs: list[Logprob]
    sequence_number: NotRequired[int]


class ResponseTextDoneEvent(TypedDict):
    type: Literal["response.output_text.done"]
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Logprob]
    sequence_number: NotRequired[int]


class ResponseRefusalDeltaEvent(TypedDict):
    type: Literal["response.refusal.delta"]
    item_id: str
    output_index: int
    content_index: int
    delta: str
    sequence_number: NotRequired[int]


class ResponseRefusalDoneEvent(TypedDict):
    type: Literal["response.refusal.done"]
    item_id: str
    output_index: int
    content_index: int
    refusal: str
    sequence_number: NotRequired[int]


class ResponseReasoningTextDeltaEvent(TypedDict):
    type: Literal["response.reasoning_text.delta"]
    item_id: str
    output_index: int
    content_index: int
    delta: str
    sequence_number: NotRequired[int]


class ResponseReasoningTextDoneEvent(TypedDict):
    type: Literal["response.reasoning_text.done"]
    item_id: str
    output_index: int
    content_index: int
    text: str
    sequence_number: NotRequired[int]


class ResponseReasoningSummaryPartAddedEvent(TypedDict):
    type: Literal["response.reasoning_summary_part.added"]
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText
    sequence_number: NotRequired[int]


class ResponseReasoningSummaryPartDoneEvent(TypedDict):
    type: Literal["response.reasoning_summary_part.done"]
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText
    sequence_number: NotRequired[int]


class ResponseReasoningSummaryTextDeltaEvent(TypedDict):
    type: Literal["response.reasoning_summary_text.delta"]
    item_id: str
    output_index: int
    summary_index: int
    delta: str
    sequence_number: NotRequired[int]


class ResponseReasoningSummaryTextDoneEvent(TypedDict):
    type: Literal["response.reasoning_summary_text.done"]
    item_id: str
    output_index: int
    summary_index: int
    text: str
    sequence_number: NotRequired[int]


class ResponseFunctionCallArgumentsDeltaEvent(TypedDict):
    type: Literal["response.function_call_arguments.delta"]
    item_id: str
    output_index: int
    delta: str
    sequence_number: NotRequired[int]


class ResponseFunctionCallArgumentsDoneEvent(TypedDict):
    type: Literal["response.function_call_arguments.done"]
    item_id: str
    output_index: int
    # Not in the SDK's model (extra fields are accepted); WIRE.md asks for it.
    name: str
    arguments: str
    sequence_number: NotRequired[int]


class ResponseCustomToolCallInputDeltaEvent(TypedDict):
    type: Literal["response.custom_tool_call_input.delta"]
    item_id: str
    output_index: int
    delta: str
    sequence_number: NotRequired[int]


class ResponseCustomToolCallInputDoneEvent(TypedDict):
    type: Literal["response.custom_tool_call_input.done"]
    item_id: str
    output_index: int
    input: str
    sequence_number: NotRequired[int]


type ResponseTerminalEvent = ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent

type ResponseStreamEvent = (
    ResponseCreatedEvent
    | ResponseInProgressEvent
    | ResponseOutputItemAddedEvent
    | ResponseOutputItemDoneEvent
    | ResponseContentPartAddedEvent
    | ResponseContentPartDoneEvent
    | ResponseTextDeltaEvent
    | ResponseTextDoneEvent
    | ResponseRefusalDeltaEvent
    | ResponseRefusalDoneEvent
    | ResponseReasoningTextDeltaEvent
    | ResponseReasoningTextDoneEvent
    | ResponseReasoningSummaryPartAddedEvent
    | ResponseReasoningSummaryPartDoneEvent
    | ResponseReasoningSummaryTextDeltaEvent
    | ResponseReasoningSummaryTextDoneEvent
    | ResponseFunctionCallArgumentsDeltaEvent
    | ResponseFunctionCallArgumentsDoneEvent
    | ResponseCustomToolCallInputDeltaEvent
    | ResponseCustomToolCallInputDoneEvent
    | ResponseCompletedEvent
    | ResponseIncompleteEvent
    | ResponseFailedEvent
)
