"""Wire shapes of the two APIs and SSE framing. No logic beyond encoding."""
