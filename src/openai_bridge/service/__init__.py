"""Use cases, one module per resource: what the bridge decides (policy) and which run answers."""
