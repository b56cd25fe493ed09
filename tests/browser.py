"""Headless Chromium and a small HTML tree, for the page tests (leaderboard and report).

- :data:`browser` / :func:`needs_chromium` — marks for a test that needs the browser:
  ``pytest.mark.browser`` plus a skip (with the reason) when Debian's ``chromium`` is not
  installed. ``.ci/run`` installs it.
- :func:`dump_dom` — load a URL (``file://`` here; fragments such as ``#click=cost`` drive
  the pages' own scripts) and return the DOM *after* the scripts ran (``--dump-dom``).
- :func:`screenshot` — a PNG of the page, to look at by eye.
- :func:`parse` — a tiny DOM (:class:`Node`) of an HTML string, for static and dumped pages.

Every launch uses its own throw-away profile and no network-facing background services.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

_CANDIDATES = ("chromium", "/usr/bin/chromium", "chromium-browser")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def chromium_path() -> str | None:
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


browser = [
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_path() is None,
        reason="no headless Chromium found (install Debian's `chromium`; .ci/run does)",
    ),
]


def needs_chromium(test):
    """Decorator form of :data:`browser`."""
    for mark in browser:
        test = mark(test)
    return test


def _run(url: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    exe = chromium_path()
    if exe is None:  # pragma: no cover - callers are marked with `browser`
        pytest.skip("no headless Chromium found")
    with tempfile.TemporaryDirectory(prefix="medagent-chromium-") as profile:
        env = {**os.environ, "HOME": profile}
        done = subprocess.run(
            [exe, *_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True, text=True, timeout=timeout, env=env,
        )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise AssertionError(f"chromium exited with {done.returncode} on {url}:\n{tail}")
    return done


def dump_dom(url: str, *, budget_ms: int = 2000) -> str:
    """The serialised DOM after the page's scripts ran (``--virtual-time-budget`` lets any
    timers settle without real waiting)."""
    return _run(url, "--run-all-compositor-stages-before-draw", f"--virtual-time-budget={budget_ms}",
                "--dump-dom").stdout


def screenshot(url: str, out: Path, *, width: int = 1280, height: int = 1000) -> Path:
    out = Path(out)
    _run(url, f"--window-size={width},{height}", f"--screenshot={out}", "--virtual-time-budget=2000")
    return out


def file_url(path: Path, fragment: str = "") -> str:
    return Path(path).resolve().as_uri() + (f"#{fragment}" if fragment else "")


# --- a small DOM ------------------------------------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str | bool) -> list[Node]:
        """Elements with this tag and these attributes (``True``: present; ``class_`` for class;
        ``data_x`` for ``data-x``)."""
        out = []
        for node in self.iter():
            if tag is not None and node.tag != tag:
                continue
            if all(_attr_matches(node, name, want) for name, want in attrs.items()):
                out.append(node)
        return out

    def find(self, tag: str | None = None, **attrs: str | bool) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag or '*'}> with {attrs}"
        return found[0]

    def by_id(self, ident: str) -> Node:
        return self.find(id=ident)

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def has(self, name: str) -> bool:
        """Whether the attribute is present (``<details open>`` has ``open`` with no value)."""
        return name in self.attrs


def _attr_matches(node: Node, name: str, want: str | bool) -> bool:
    name = "class" if name == "class_" else name.replace("_", "-")
    if name not in node.attrs:
        return want is False
    if want is True:
        return True
    value = node.attrs[name] or ""
    return want in value.split() if name == "class" else value == want


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def html_element(doc: Node) -> Node:
    return doc.find("html")


def page_problems(doc: Node) -> dict[str, str]:
    """Script errors and blocked content the pages record on ``<html>`` (empty when clean)."""
    root = html_element(doc)
    return {k: v or "" for k, v in root.attrs.items() if k in ("data-js-errors", "data-csp-violations")}
