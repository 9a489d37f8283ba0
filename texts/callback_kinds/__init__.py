"""Every button's kind of callback data, one module per room; texts/callbacks.py imports
them all (which registers them) and is where callers import them from."""
