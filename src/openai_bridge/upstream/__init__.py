"""Talking to the model server: the HTTP chat client and a scripted fake of a chat server."""
