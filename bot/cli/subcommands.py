"""A command group as a table: each sub-command's name, help, what it runs, and one
small function that adds its arguments (instead of one long builder per group)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from config.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For a sub-command that takes none."""


@dataclass(frozen=True)
class SubCommand:
    name: str
    help: str
    run: Command
    arguments: Arguments = no_arguments
    options: dict[str, Any] = field(default_factory=dict)
    """More of argparse's add_parser arguments (description, epilog, formatter_class)."""


def add_command(sub: Any, command: SubCommand) -> argparse.ArgumentParser:
    """Add one sub-command to `sub` (what add_subparsers returned)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        command.name, help=command.help, **command.options
    )
    command.arguments(parser)
    parser.set_defaults(func=command.run)
    return parser


def add_group(
    sub: Any,
    name: str,
    dest: str,
    commands: Sequence[SubCommand],
    **options: Any,
) -> None:
    """A command with actions (`huibao NAME ACTION ...`), one per row of `commands`;
    options go to the group's add_parser (help, description)."""
    group = sub.add_parser(name, **options)
    actions = group.add_subparsers(dest=dest, metavar="ACTION", required=True)
    for command in commands:
        add_command(actions, command)


# What `notices retry` and `rounds retry` promise alike.
RETRY_PROMISE = (
    "back in the queue with a fresh retry budget; the running bot sends them. Those who "
    "blocked the bot are tried too: if they have unblocked it they get the message, if not "
    "they are listed as blocked again. Nobody who already got a message is sent it again."
)


def retry_command(what: str, deliveries: str, argument: str, run: Command) -> SubCommand:
    """`huibao notices retry ID` and `huibao rounds retry ID`: `deliveries` names what is
    put back in the queue, `argument` the id's name."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(argument, type=int)

    return SubCommand(
        "retry", f"send {what} again to those it did not reach (failed or blocked)", run,
        arguments, {"description": f"Put {deliveries} {RETRY_PROMISE}"},
    )
