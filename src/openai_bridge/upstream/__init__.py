"""Talking to model servers: the seam (`base.Upstream`), its aiohttp implementation (`http`), and the
mapping of whatever an upstream answers to parsed objects or one clear error (`errors`)."""
