"""Telegram in, Telegram out: one room per capability, each with register(app).

Which rooms there are, in which order, in which handler groups, and where a message that
is not a command goes: handlers/routing.py, the one place.
"""
