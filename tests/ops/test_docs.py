"""The documentation keeps up with the code: every setting of config.example.toml is in the
settings reference, every chat command and every `huibao` sub-command in the commands
reference, and every link of the README leads somewhere. (Broken links inside docs/ are
caught by `mkdocs build --strict` in ./scripts/test.)"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from typing import Any

from bot.app import build_application
from bot.cli import build_parser
from config.settings import Settings
from handlers import menu
from texts.commands import BASE_COMMANDS

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_PAGE = ROOT / "docs" / "reference" / "settings.md"
COMMANDS_PAGE = ROOT / "docs" / "reference" / "commands.md"
# [text](target), not an image's, and not inside code: enough for the README's links.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def setting_keys(table: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key of the settings file as `section.key` (nested: `telegram.webhook.url`)."""
    keys: list[str] = []
    for name, value in table.items():
        if isinstance(value, dict):
            keys += setting_keys(value, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def missing_settings(example: str, page: str) -> list[str]:
    return [key for key in setting_keys(tomllib.loads(example)) if f"`{key}`" not in page]


def chat_commands() -> list[str]:
    """The commands people can send: the base ones and those capabilities register."""
    build_application(Settings(telegram={"token": "123456:documentation-test"}))
    return [name for name, _ in BASE_COMMANDS] + sorted(menu.COMMANDS)


def cli_commands(parser: argparse.ArgumentParser, prefix: str = "huibao") -> list[str]:
    """`huibao NAME` for every command, `huibao GROUP ACTION` for every action of a group."""
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                deeper = cli_commands(sub, f"{prefix} {name}")
                found += deeper or [f"{prefix} {name}"]
    return found


def missing_commands(page: str, chat: list[str], cli: list[str]) -> list[str]:
    missing = [f"/{name}" for name in chat if not re.search(rf"`/{name}\b", page)]
    return missing + [command for command in cli if f"`{command}" not in page]


def broken_links(markdown: str, folder: Path) -> list[str]:
    broken = []
    for target in LINK.findall(markdown):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or a place on the same page
        if not (folder / target.split("#")[0]).exists():
            broken.append(target)
    return broken


def test_every_setting_of_the_example_file_is_in_the_reference() -> None:
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    page = SETTINGS_PAGE.read_text(encoding="utf-8")
    assert "telegram.webhook.secret_token" in setting_keys(tomllib.loads(example))
    assert missing_settings(example, page) == []


def test_a_setting_left_out_of_the_reference_is_named() -> None:
    example = '[bureau]\nname = "x"\n[telegram.webhook]\nport = 1\n'
    assert missing_settings(example, "`bureau.name`") == ["telegram.webhook.port"]


def test_every_chat_command_and_cli_command_is_in_the_reference() -> None:
    chat, cli = chat_commands(), cli_commands(build_parser())
    assert {"report", "round", "notice", "inbox", "menu"} <= set(chat)
    assert {"huibao run", "huibao db backup", "huibao rounds unlock", "huibao doctor"} <= set(cli)
    assert missing_commands(COMMANDS_PAGE.read_text(encoding="utf-8"), chat, cli) == []


def test_a_command_left_out_of_the_reference_is_named() -> None:
    page = "`/menu` and `huibao rounds open --form`"
    assert missing_commands(page, ["menu", "report"], ["huibao rounds open", "huibao doctor"]) == [
        "/report",
        "huibao doctor",
    ]


def test_the_readme_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(LINK.findall(readme)) >= 10  # the map of the docs
    assert broken_links(readme, ROOT) == []


def test_a_broken_link_is_named() -> None:
    text = "[ok](docs/index.md#x) [web](https://t.me) [gone](docs/nothing.md)"
    assert broken_links(text, ROOT) == ["docs/nothing.md"]
