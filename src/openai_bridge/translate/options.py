"""Where `Options` used to live: `config.py` (being rewritten on main) still imports it from here.

New code imports `from openai_bridge.translate import Options`; delete this module once nothing imports it.
"""

from .responses_via_chat.options import Options

__all__ = ["Options"]
