"""`balancebot completion bash|zsh|fish`: each script is loaded by its real shell and asked
what completes after a command line, as the shell would when Tab is pressed. The scripts
are made from the argparse parser, so a parser of the test's own shows that new commands
and options complete without an edit to any script."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from balancebot.cli.completion import SHELLS, script
from balancebot.cli.main import _parser

BALANCEBOT = Path(sys.executable).with_name("balancebot")


def shell(name: str) -> str:
    """The shell's path; under CI a missing one fails (`.ci/run` installs zsh and fish)."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (apt-get install {name})")
        pytest.skip(f"{name} is not installed")
    return found


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=cwd)
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout


BASH_ASK = """
source {script}
ask() {{ COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _balancebot
         printf '%s\\n' "${{COMPREPLY[*]}}"; }}
"""


def bash_completes(text: str, lines: list[list[str]], cwd: Path) -> list[list[str]]:
    """What bash offers after each command line (its last word is the one being typed)."""
    path = cwd / "balancebot.bash"
    path.write_text(text)
    asks = "\n".join("ask " + " ".join(f"'{w}'" for w in line) for line in lines)
    out = run([shell("bash"), "-c", BASH_ASK.format(script=path) + asks], cwd)
    return [line.split() for line in out.splitlines()]


def test_bash_loads_the_script_balancebot_prints(tmp_path: Path) -> None:
    loaded = f"source <({BALANCEBOT} completion bash); complete -p balancebot"
    assert run([shell("bash"), "-c", loaded], tmp_path) == "complete -F _balancebot balancebot\n"


def test_bash_completes_commands_subcommands_options_and_values(tmp_path: Path) -> None:
    (tmp_path / "prod.toml").touch()
    lines = [
        ["balancebot", "c"],
        ["balancebot", "--log-level", "debug", "ch"],  # a global option's value is skipped
        ["balancebot", "--log-level", ""],
        ["balancebot", "check", "--format", ""],
        ["balancebot", "check", "--t"],
        ["balancebot", "check", "--timeout", ""],  # seconds: nothing to offer
        ["balancebot", "check", "-c", "pr"],  # a FILE
        ["balancebot", "silences", ""],
        ["balancebot", "silences", "add", "--c"],
        ["balancebot", "db", "-c", "prod.toml", "u"],
        ["balancebot", "completion", ""],
    ]
    names = [name for name, _ in _subcommands(_parser())]
    assert bash_completes(script(_parser(), "bash"), lines, tmp_path) == [
        [name for name in names if name.startswith("c")],
        ["check"],
        ["debug", "info", "warning", "error"],
        ["text", "json", "nagios"],
        ["--timeout"],
        [],
        ["prod.toml"],
        ["list", "add", "expire", "-h", "--help"],
        ["--config", "--comment"],
        ["upgrade"],
        [*SHELLS, "-h", "--help"],
    ]


def test_a_new_command_completes_without_an_edit(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="balancebot", add_help=False)
    commands = parser.add_subparsers()
    pets = commands.add_parser("pets").add_subparsers()
    feed = pets.add_parser("feed", add_help=False)
    feed.add_argument("--food", choices=["hay", "oats"])
    feed.add_argument("--log", metavar="FILE")
    feed.add_argument("--loud", action="store_true")
    feed.add_argument("kind", choices=["horse", "goat"])
    (tmp_path / "feeding.log").touch()
    lines = [
        ["balancebot", ""],
        ["balancebot", "pets", ""],
        ["balancebot", "pets", "feed", ""],
        ["balancebot", "pets", "feed", "--food", ""],
        ["balancebot", "pets", "feed", "--food", "hay", "--log", "fee"],
        ["balancebot", "pets", "feed", "--loud", "g"],  # a flag takes no value
    ]
    assert bash_completes(script(parser, "bash"), lines, tmp_path) == [
        ["pets"],
        ["feed", "-h", "--help"],
        ["horse", "goat", "--food", "--log", "--loud"],
        ["hay", "oats"],
        ["feeding.log"],
        ["goat"],
    ]


ZSH_ASK = """
compdef() {{ print -r -- "compdef $*" }}
source {script}
_describe() {{ local name=${{@[-1]}}; print -r -- "${{(@)${{(P)name}}%%:*}}" }}
compadd() {{ shift; print -r -- "$*" }}
_files() {{ print -r -- "(files)" }}
_message() {{ print -r -- "(a value)" }}
ask() {{ words=("$@"); CURRENT=$#; PREFIX=${{words[CURRENT]}}; _balancebot }}
"""


def test_zsh_completes_with_the_same_table(tmp_path: Path) -> None:
    """zsh's completion widgets need a terminal; `_describe`, `compadd`, `_files` and
    `_message` are replaced by functions that print what they were given."""
    path = tmp_path / "_balancebot"
    path.write_text(run([str(BALANCEBOT), "completion", "zsh"], tmp_path))
    run([shell("zsh"), "-n", str(path)], tmp_path)
    lines = [
        ["balancebot", ""],
        ["balancebot", "--log-format", "json", "silences", ""],
        ["balancebot", "silences", "add", "--"],
        ["balancebot", "check", "--format", ""],
        ["balancebot", "history", "--plot", ""],
        ["balancebot", "history", "--days", ""],
    ]
    asks = "\n".join("ask " + " ".join(f"'{w}'" for w in line) for line in lines)
    out = run([shell("zsh"), "-f", "-c", ZSH_ASK.format(script=path) + asks], tmp_path)
    parser_commands = " ".join(name for name, _ in _subcommands(_parser()))
    assert out.splitlines() == [
        "compdef _balancebot balancebot",
        parser_commands,
        "list add expire",
        "-h --help -c --config --account --rule --match --comment",
        "text json nagios",
        "(files)",
        "(a value)",
    ]


def test_fish_completes_with_the_same_table(tmp_path: Path) -> None:
    """fish answers `complete -C LINE` without a terminal: the real completion machinery."""
    path = tmp_path / "balancebot.fish"
    path.write_text(run([str(BALANCEBOT), "completion", "fish"], tmp_path))
    run([shell("fish"), "-n", str(path)], tmp_path)
    (tmp_path / "prod.toml").touch()
    lines = [
        "balancebot silences ",
        "balancebot --log-level debug ch",
        "balancebot check --format ",
        "balancebot check -c pr",
        "balancebot silences add --r",
        "balancebot db ",
    ]
    asks = "; ".join(f"complete -C '{line}'; echo ---" for line in lines)
    out = run([shell("fish"), "--no-config", "-c", f"source {path}; {asks}"], tmp_path)
    answers = [
        sorted(line.split("\t")[0] for line in block.strip("\n").splitlines())
        for block in out.split("---\n")[:-1]
    ]
    assert answers == [
        ["add", "expire", "list"],
        ["check"],
        ["json", "nagios", "text"],
        ["prod.toml"],
        ["--rule"],
        ["status", "upgrade"],
    ]


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def test_the_command_offers_exactly_the_shells_it_can_write() -> None:
    completion = dict(_subcommands(_parser()))["completion"]
    (shells,) = [a for a in completion._actions if a.dest == "shell"]
    assert tuple(shells.choices or ()) == SHELLS
