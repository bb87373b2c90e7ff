"""MkDocs hook for the documentation site (mkdocs.yml names it).

The pages link repository files outside docs/ (`../config.example.toml`,
`../tests/plugin_example/`) the way a reader on a forge or in a checkout follows them, and
tests check those targets exist. On the built site such a link would lead nowhere, so each
becomes a link to the forge when `repo_url` is set, else the file's path as code. A target
that does not exist is left alone, so `mkdocs build --strict` still reports it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")


def repository_link(
    match: re.Match[str], page_dir: Path, docs_dir: Path, repo_url: str | None
) -> str:
    """The link as the site should show it (unchanged when it stays inside the site)."""
    target = match["target"]
    if ":" in target or target.startswith("/"):
        return match[0]  # a URL, or an absolute path MkDocs judges itself
    path = (page_dir / target).resolve()
    root = docs_dir.parent
    if path.is_relative_to(docs_dir) or not path.is_relative_to(root) or not path.exists():
        return match[0]
    relative = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
    if repo_url:
        kind = "tree" if path.is_dir() else "blob"
        anchor = match["anchor"] or ""
        return f"[{match['text']}]({repo_url.rstrip('/')}/{kind}/main/{relative}{anchor})"
    text = match["text"]
    return text if text.strip("`").rstrip("/") == relative.rstrip("/") else f"{text} (`{relative}`)"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs_dir = Path(config["docs_dir"]).resolve()
    page_dir = (docs_dir / page.file.src_path).parent
    repo_url = config.get("repo_url")
    out, end = [], 0
    for fence in [*FENCE.finditer(markdown), None]:
        start = fence.start() if fence else len(markdown)
        prose = markdown[end:start]
        out.append(LINK.sub(lambda m: repository_link(m, page_dir, docs_dir, repo_url), prose))
        if fence:
            out.append(fence[0])
            end = fence.end()
    return "".join(out)
