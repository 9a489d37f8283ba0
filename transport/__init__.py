"""Telegram plumbing that both the chat and the timers need: the HTTP request class,
the rate limiter and the conversion of plain buttons into Telegram's keyboards."""
