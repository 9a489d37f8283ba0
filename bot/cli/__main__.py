"""`python -m bot.cli`: the same as the installed `huibao` command."""

from bot.cli import entry

entry()
