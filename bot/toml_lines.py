"""Where in a TOML text a key is: the line an error in the assistants file points at."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_PART = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([\w-]+))\s*(?:\.|$)""")


def header_path(line: str) -> list[str] | None:
    """The dotted path of a `[table]` (or `[[array]]`) header line, quoted parts unquoted."""
    match = _HEADER.match(line.strip())
    if match is None:
        return None
    inside, parts, position = match.group(1), [], 0
    while position < len(inside):
        part = _PART.match(inside, position)
        if part is None or part.end() == position:
            return None
        parts.append(next(group for group in part.groups() if group is not None))
        position = part.end()
    return parts


def line_of(text: str, loc: list[str]) -> int:
    """The line a location points at: its key inside the deepest table holding it, else that
    table's header, else 1. An empty location is the top-level `default` key."""
    lines = text.splitlines()
    loc = loc or ["default"]
    start, depth, found = 0, 0, 1
    headers = [(number, header_path(line)) for number, line in enumerate(lines)]
    for number, path in headers:
        if path is not None and len(path) > depth and loc[: len(path)] == path:
            start, depth, found = number + 1, len(path), number + 1
    if depth >= len(loc):
        return found
    key = loc[depth]
    for number in range(start, len(lines)):
        stripped = lines[number].strip()
        if stripped.startswith("["):
            break
        if stripped.split("=", 1)[0].strip().strip("\"'") == key:
            return number + 1
    return found
