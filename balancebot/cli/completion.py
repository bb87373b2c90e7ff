"""`balancebot completion bash|zsh|fish`: a completion script made from the argparse
parser itself, so a new command or option completes without anyone editing a script.

The parser is read into a table (each command path with its options, subcommands and
positional choices); each shell gets the same table in its own idiom. Every script finds
the command path the same way: words that name a subcommand of the path so far extend it,
an option that takes a value skips the next word. Values complete from an option's
`choices`, file names where the metavar says FILE, and nothing otherwise (a duration or an
id has no list to offer). No dependency: argparse is what `main.py` already builds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass

SHELLS = ("bash", "zsh", "fish")
FILE_METAVARS = frozenset({"FILE", "PATH"})


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]
    is_file: bool


@dataclass(frozen=True)
class Command:
    path: str  # "" is `balancebot` itself; "silences add"
    options: tuple[Option, ...]
    subcommands: tuple[tuple[str, str], ...]  # (name, help)
    words: tuple[str, ...]  # a positional argument's choices (`db status|upgrade`)


def _help(action: argparse.Action) -> str:
    text = action.help if action.help and action.help != argparse.SUPPRESS else ""
    return " ".join(text.replace("%%", "%").split())


def commands(parser: argparse.ArgumentParser, path: str = "") -> Iterator[Command]:
    """Every command path of the parser, depth first, `balancebot` itself first."""
    options: list[Option] = []
    subcommands: list[tuple[str, str]] = []
    words: list[str] = []
    children: list[tuple[str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if action.option_strings:
            choices = tuple(str(c) for c in action.choices or ())
            options.append(
                Option(
                    flags=tuple(action.option_strings),
                    help=_help(action),
                    takes_value=action.nargs != 0,
                    choices=choices,
                    is_file=action.metavar in FILE_METAVARS,
                )
            )
        elif isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: _help(a) for a in action._choices_actions}
            for name, child in action.choices.items():
                subcommands.append((name, helps.get(name, "")))
                children.append((name, child))
        elif action.choices:
            words.extend(str(c) for c in action.choices)
    yield Command(path, tuple(options), tuple(subcommands), tuple(words))
    for name, child in children:
        yield from commands(child, f"{path} {name}".strip())


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    table = list(commands(parser))
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](table)


def _words(command: Command) -> list[str]:
    """What may come next at this path: subcommands, positional choices, options."""
    flags = [flag for option in command.options for flag in option.flags]
    return [name for name, _ in command.subcommands] + list(command.words) + flags


def _quote(text: str) -> str:
    """A single-quoted word for bash, zsh and fish alike."""
    return "'" + text.replace("\\", "\\\\").replace("'", "'\\''") + "'"


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _path_cases(table: list[Command]) -> tuple[list[str], list[str]]:
    """`path:word` keys that extend the path, and those of options that take a value."""
    extend = [f"{c.path}:{name}" for c in table for name, _ in c.subcommands]
    skip = [
        f"{c.path}:{flag}" for c in table for o in c.options if o.takes_value for flag in o.flags
    ]
    return extend, skip


def _value_arms(
    table: list[Command], choices: Callable[[tuple[str, ...]], str], files: str, other: str
) -> list[str]:
    """One `case` arm per option that takes a value (bash and zsh): what to offer after it."""
    arms = []
    for command in table:
        for option in (o for o in command.options if o.takes_value):
            action = (
                choices(option.choices) if option.choices else files if option.is_file else other
            )
            arms += [
                f"{_quote(f'{command.path}:{flag}')}) {action}; return ;;" for flag in option.flags
            ]
    return arms


def _walk_arms(table: list[Command]) -> list[str]:
    """The `case "$path:$word"` arms (bash and zsh) that find the command path."""
    extend, skip = _path_cases(table)
    return [
        f'{"|".join(_quote(k) for k in extend) or "__none__"}) path="${{path:+$path }}$word" ;;',
        f"{'|'.join(_quote(k) for k in skip) or '__none__'}) skip=1 ;;",
    ]


def _offer(values: list[str], paths: list[str]) -> list[str]:
    """bash and zsh: an option's values after it, else what the command path offers."""
    return [
        '    if [[ "$prev" == -* ]]; then',
        '        case "$path:$prev" in',
        *_indent(values, 12),
        "        esac",
        "    fi",
        '    case "$path" in',
        *_indent(paths, 8),
        "    esac",
    ]


def _indent(lines: list[str], spaces: int) -> list[str]:
    return [" " * spaces + line for line in lines]


def _bash(table: list[Command]) -> str:
    values = _value_arms(
        table,
        choices=lambda c: f'COMPREPLY=($(compgen -W {_quote(" ".join(c))} -- "$cur"))',
        files='compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))',
        other="COMPREPLY=()",
    )
    paths = [f"{_quote(c.path)}) words={_quote(' '.join(_words(c)))} ;;" for c in table]
    return "\n".join(
        [
            "# bash completion for balancebot (`balancebot completion bash`)",
            "_balancebot() {",
            '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" path="" word words="" i skip=0',
            '    ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
            "    for ((i = 1; i < COMP_CWORD; i++)); do",
            '        word="${COMP_WORDS[i]}"',
            "        if ((skip)); then skip=0; continue; fi",
            '        case "$path:$word" in',
            *_indent(_walk_arms(table), 12),
            "        esac",
            "    done",
            *_offer(values, paths),
            '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
            "}",
            "complete -F _balancebot balancebot",
            "",
        ]
    )


def _zsh_describe(items: list[tuple[str, str]]) -> str:
    """`_describe`'s `name:description` items; a colon in a name is escaped."""
    colon = "\\:"
    return " ".join(_quote(f"{name.replace(':', colon)}:{text}") for name, text in items)


def _zsh(table: list[Command]) -> str:
    values = _value_arms(
        table,
        choices=lambda c: f"compadd -- {' '.join(_quote(choice) for choice in c)}",
        files="_files",
        other="_message 'a value'",
    )
    paths = []
    for c in table:
        described = [*c.subcommands, *((w, "") for w in c.words)]
        flags = [(flag, o.help) for o in c.options for flag in o.flags]
        paths.append(
            f"{_quote(c.path)}) commands=({_zsh_describe(described)});"
            f" options=({_zsh_describe(flags)}) ;;"
        )
    return "\n".join(
        [
            "#compdef balancebot",
            "# zsh completion for balancebot (`balancebot completion zsh`)",
            "_balancebot_path() {",
            "    # the command path the words before the cursor have chosen",
            '    local word i skip=0 path=""',
            "    for ((i = 2; i < CURRENT; i++)); do",
            '        word="${words[i]}"',
            "        if ((skip)); then skip=0; continue; fi",
            '        case "$path:$word" in',
            *_indent(_walk_arms(table), 12),
            "        esac",
            "    done",
            '    print -r -- "$path"',
            "}",
            "_balancebot() {",
            '    local path="$(_balancebot_path)" prev="${words[CURRENT-1]}"',
            "    local -a commands options",
            *_offer(values, paths),
            "    if [[ \"$PREFIX\" == -* ]]; then _describe -t options 'option' options",
            "    elif ((${#commands})); then _describe -t commands 'command' commands",
            "    else _describe -t options 'option' options",
            "    fi",
            "}",
            'if [[ "$funcstack[1]" == _balancebot ]]; then _balancebot "$@";'
            " else compdef _balancebot balancebot; fi",
            "",
        ]
    )


def _fish(table: list[Command]) -> str:
    extend, skip = _path_cases(table)
    lines = [
        "# fish completion for balancebot (`balancebot completion fish`)",
        "function __balancebot_path",
        "    # the command path the words before the cursor have chosen",
        "    set -l path ''",
        "    set -l skip 0",
        "    set -l words (commandline -opc)",
        "    set -e words[1]",
        "    for word in $words",
        "        if test $skip = 1",
        "            set skip 0",
        "            continue",
        "        end",
        '        switch "$path:$word"',
        f"            case {' '.join(_fish_quote(k) for k in extend) or '__none__'}",
        '                set path (string trim -- "$path $word")',
        f"            case {' '.join(_fish_quote(k) for k in skip) or '__none__'}",
        "                set skip 1",
        "        end",
        "    end",
        '    echo "$path"',
        "end",
        "function __balancebot_at",
        "    set -l path (__balancebot_path)",
        '    test "$path" = "$argv[1]"',
        "end",
        "complete -c balancebot -f",
    ]
    for c in table:
        at = f"-n {_fish_quote('__balancebot_at ' + _fish_quote(c.path))}"
        for name, text in c.subcommands:
            described = f"-a {_fish_quote(name)} -d {_fish_quote(text)}"
            lines.append(f"complete -c balancebot {at} {described}")
        if c.words:
            lines.append(f"complete -c balancebot {at} -a {_fish_quote(' '.join(c.words))}")
        for o in c.options:
            spec = []
            for flag in o.flags:
                kind = "-l" if flag.startswith("--") else "-s" if len(flag) == 2 else "-o"
                spec.append(f"{kind} {flag.lstrip('-')}")
            if o.choices:
                spec.append(f"-x -a {_fish_quote(' '.join(o.choices))}")
            elif o.is_file:
                spec.append("-r -F")
            elif o.takes_value:
                spec.append("-x")
            if o.help:
                spec.append(f"-d {_fish_quote(o.help)}")
            lines.append(f"complete -c balancebot {at} {' '.join(spec)}")
    return "\n".join([*lines, ""])
