"""Stage 1a: find and read the desired-state files.

Reads the local file system only (never the network). In: a folder. Out: the
``*.yaml``/``*.yml`` files under it, sorted, each decoded as strict UTF-8, or a
DesiredStateError naming every file that cannot be read. Hidden files and
folders (``.git``, ``.reconciler``) are skipped. Symlinks are followed, but a
loop or a dangling link is an error rather than a hang or a silent skip, and a
link that resolves outside the folder is refused without being read: what the
files say is what was reviewed in the folder, and a link to anything else (a
key file, another repository) must never reach a plan or an error message.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import DesiredStateError, Finding

__all__ = ["SourceFile", "read_tree"]

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # as shown to people: relative to the working directory when possible
    rel: str  # relative to the desired-state root, with / separators (stable for digests)
    text: str
    sha256: str


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path.absolute()) if rel.startswith("..") else rel


def _walk(root: Path, findings: list[Finding]) -> list[Path]:
    """All YAML files under root, following symlinks without ever looping."""
    found: list[Path] = []
    seen_dirs: set[Path] = set()
    real_root = root.resolve()
    stack = [root]
    while stack:
        folder = stack.pop()
        real = folder.resolve()
        if real in seen_dirs:
            findings.append(
                Finding(_display(folder), None, f"symlink loop: this folder is {_display(real)}, already read")
            )
            continue
        seen_dirs.add(real)
        try:
            children = sorted(folder.iterdir())
        except OSError as exc:
            findings.append(Finding(_display(folder), None, f"cannot list folder: {exc.strerror}"))
            continue
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_symlink() and not child.exists():
                findings.append(Finding(_display(child), None, "dangling symlink"))
                continue
            if child.is_symlink() and not child.resolve().is_relative_to(real_root):
                findings.append(
                    Finding(_display(child), None, "symlink to outside the desired-state folder; refused, not read")
                )
                continue
            if child.is_dir():
                stack.append(child)
            elif child.suffix.lower() in SUFFIXES and child.is_file():
                found.append(child)
    return sorted(found)


def _line_of_offset(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def read_tree(root: str | os.PathLike[str], *, max_file_bytes: int) -> tuple[list[SourceFile], list[Finding]]:
    """The readable files, and a finding for each file or folder that could not be read.

    A missing root or a tree with no YAML at all raises at once: there is
    nothing else worth reporting.
    """
    base = Path(root)
    if not base.exists():
        raise DesiredStateError([Finding(_display(base), None, "no such folder")])
    if not base.is_dir():
        raise DesiredStateError([Finding(_display(base), None, "not a folder")])
    findings: list[Finding] = []
    files: list[SourceFile] = []
    for path in _walk(base, findings):
        shown = _display(path)
        try:
            size = path.stat().st_size
            if size > max_file_bytes:
                findings.append(Finding(shown, None, f"file is {size:,} bytes, over the {max_file_bytes:,}-byte limit"))
                continue
            data = path.read_bytes()
        except OSError as exc:
            findings.append(Finding(shown, None, f"cannot read file: {exc.strerror}"))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            findings.append(
                Finding(
                    shown,
                    _line_of_offset(data, exc.start),
                    f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                )
            )
            continue
        rel = path.relative_to(base).as_posix()
        files.append(SourceFile(shown, rel, text.removeprefix("\ufeff"), hashlib.sha256(data).hexdigest()))
    if not files and not findings:
        raise DesiredStateError(
            [
                Finding(
                    _display(base),
                    None,
                    "no desired-state files (*.yaml, *.yml) found; refusing to plan against an empty declaration",
                )
            ]
        )
    return files, findings
