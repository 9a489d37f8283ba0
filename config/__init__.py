"""Typed settings and logging set-up: read once at start and passed in, never imported
by the core."""
