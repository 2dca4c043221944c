"""A Responses client in front of an upstream that serves the Responses API itself, whose answers may be
defective (llama.cpp's `/v1/responses`: no `sequence_number`, `output_index` or `content_index`, bare
snapshots, `completed` when `max_output_tokens` cut the answer; older servers: data-only frames, `[DONE]`).

`stream.py`: `StreamRepair`, the machine that mends an event stream as it passes (`state.py`: its record of
items and parts); `response.py`: `repair_response`, the same for a non-stream Response; `snapshot.py`: the
Response completed with the request's echo, and the cut rule; `items.py`: items, parts and usage with every
required field.
"""

from .response import repair_response
from .stream import StreamRepair

__all__ = ["StreamRepair", "repair_response"]
