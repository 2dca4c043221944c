"""`python -m openai_bridge`: the same as the `openai-bridge` command."""

from .cli import main

main()
