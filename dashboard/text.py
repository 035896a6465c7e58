"""Users' text shown in the app is text, never Markdown.

Unit names, user names, ledger titles, evidence, reviewer comments, reasons
and file names come from people outside the county office. Streamlit renders
Markdown in ``st.markdown``/``st.write``, captions, alerts, expander and
button labels and metric labels: ``![t](http://host/pixel.png)`` in evidence
would make a reviewer's browser fetch that image, ``[点我](http://…)`` in a
name would render a link. Every piece of users' text is passed through
:func:`md` before it is put into such a string; :func:`md_link` is the one way
the app itself makes a link from a user's web address.
"""
from __future__ import annotations

import re
from urllib.parse import quote

#: every ASCII punctuation character Markdown (and Streamlit's :color[…] / $…$ extensions) gives a meaning
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&\"'@%])")
_WEB = re.compile(r"^https?://", re.I)


def md(value) -> str:
    """``value`` as literal text inside Markdown: every Markdown character escaped (no links,
    images, emphasis, HTML, colour or formula syntax can come from it); None → ""."""
    if value is None:
        return ""
    s = str(value)
    s = _SPECIAL.sub(r"\\\1", s)
    # a line break in users' text stays a line break; it cannot start a block (heading, list, quote)
    return s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "  \n")


def md_link(text, url: str | None) -> str:
    """A link the app makes to a user's http(s) address: the text escaped, the address
    percent-encoded (no bracket, parenthesis or space can end it early). Anything else is text."""
    if not url or not _WEB.match(str(url)):
        return md(text)
    target = quote(str(url), safe=":/?#@!$&'*+,;=%~-._")
    return f"[{md(text)}]({target})"


def web_url(url) -> str:
    """``url`` when it is an http(s) address (``www.…`` made one), else "" (for link columns of tables: a unit's
    ``javascript:`` or ``data:`` text must never become something to click)."""
    u = "" if url is None else str(url).strip()
    if u[:4].lower() == "www.":
        u = "http://" + u
    return u if _WEB.match(u) else ""
