"""``python -m tests.double``: serve the Bot API double standalone."""

from tests.double.repl import main

main()
