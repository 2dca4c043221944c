"""State the bridge keeps between requests."""
