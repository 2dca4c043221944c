"""`uv run python main.py [flags]`: the same as `uv run openai-bridge [flags]`."""

from openai_bridge.cli import main

if __name__ == "__main__":
    main()
