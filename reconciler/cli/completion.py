"""`reconciler completion bash|zsh|fish`: print the shell code that tab-completes reconciler.

Completion itself is argcomplete's: the shell calls ``reconciler`` back with
the command line in the environment, and ``main`` answers from the same
argument parser that parses real runs, so completion never drifts from the
options. This module only prints the hook to install; it never touches the
user's shell files.
"""

from __future__ import annotations

import argparse
import sys

from argcomplete.shell_integration import shellcode

from reconciler.cli.common import EXIT_OK

SHELLS = ("bash", "zsh", "fish")

_WHERE = {
    "bash": 'add to ~/.bashrc:  eval "$(reconciler completion bash)"',
    "zsh": 'add to ~/.zshrc:  eval "$(reconciler completion zsh)"',
    "fish": "reconciler completion fish > ~/.config/fish/completions/reconciler.fish",
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "completion",
        help="print shell code for tab completion (bash, zsh, fish)",
        description="Print the code that makes your shell complete reconciler's commands and options. "
        + "; ".join(f"{shell}: {how}" for shell, how in _WHERE.items()),
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(f"# reconciler tab completion for {args.shell}; {_WHERE[args.shell]}\n")
    sys.stdout.write(shellcode(["reconciler"], shell=args.shell))
    return EXIT_OK
