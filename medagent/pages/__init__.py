"""The HTML helpers of medagent's pages: the run report (:mod:`medagent.report`) and the
leaderboard site (:mod:`medagent.leaderboard`) both build on this one module, and neither
imports the other's HTML code. It holds the page shell (``page.html``, ``style.css``),
escaping and the small cell helpers; how numbers, categories and trials are named and
ordered is :mod:`medagent.labels` (shared with the terminal views).

Every piece of user or model content goes through :func:`esc` (element text and
attribute values) or :func:`script_json` (data embedded in a ``<script>`` element), so
no recorded answer, message or model name can inject markup or script.
"""

from __future__ import annotations

import base64
import hashlib
import html
from importlib import resources
from string import Template
from typing import Any

__all__ = ["attr_num", "esc", "packaged_text", "page", "pretty_json", "render_template", "script_json"]

import orjson

_SCRIPT_UNSAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                  0x2028: "\\u2028", 0x2029: "\\u2029"}


def esc(value: Any) -> str:
    """Text safe for an HTML element or a quoted attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def script_json(value: Any) -> str:
    """JSON safe to place inside ``<script type="application/json">``."""
    return orjson.dumps(value).decode().translate(_SCRIPT_UNSAFE)


def pretty_json(value: Any) -> str:
    """Indented JSON text (escape it with :func:`esc` before placing it in a page)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def render_template(package: str, name: str, **values: str) -> str:
    """Fill ``$name`` placeholders of a packaged template (values must already be escaped)."""
    return Template(packaged_text(package, name)).substitute(values)


def attr_num(value: float | int | None) -> str:
    """A ``data-v`` sort value: the number, or empty for a missing one."""
    return "" if value is None else repr(float(value))


# Records script errors in ``<html data-js-errors>`` and blocked content (a Content
# Security Policy violation) in ``<html data-csp-violations>``, so a headless browser's
# DOM dump shows whether the page ran cleanly.
_ERROR_HOOK = (
    "(function(){var d=document.documentElement;function note(a,m){"
    'd.setAttribute(a,(d.getAttribute(a)||"")+m+"; ");}'
    'window.addEventListener("error",function(e){note("data-js-errors",e.message||"error");});'
    'document.addEventListener("securitypolicyviolation",function(e){'
    'note("data-csp-violations",e.violatedDirective+" "+(e.blockedURI||"inline"));});})();'
)


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def page(title: str, body: str, script: str) -> str:
    """A complete offline HTML page: inline CSS and script, no network (enforced by CSP).

    ``body`` must already be escaped; ``script`` is trusted code from this package. Only
    these two scripts may run (their hashes are the page's script-src), so even markup
    that slipped through escaping could not execute.
    """
    from medagent import __version__

    css = packaged_text(__name__, "style.css")
    return render_template(
        __name__,
        "page.html",
        title=esc(title),
        version=esc(__version__),
        script_hashes=f"{_csp_hash(_ERROR_HOOK)} {_csp_hash(script)}",
        error_hook=_ERROR_HOOK,
        css=css,
        body=body,
        script=script,
    )


def packaged_text(package: str, name: str) -> str:
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")
