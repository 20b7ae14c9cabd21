"""Paper search for the idea worker: the public arXiv query API (Atom), with a hard timeout.

The endpoint is ``agent.paper_search_url``, so tests (and mirrors) can point it elsewhere.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

ARXIV_URL = "https://export.arxiv.org/api/query"
_ATOM = {"a": "http://www.w3.org/2005/Atom"}


class PaperSearchError(Exception):
    """The search did not answer in time, failed, or answered something that is not a feed."""


async def search_arxiv(url: str, query: str, count: int, timeout: float) -> str:
    """The ``count`` most relevant papers for ``query``, one numbered entry each."""
    full = url + "?" + urllib.parse.urlencode(
        {"search_query": f"all:{query}", "start": 0, "max_results": count, "sortBy": "relevance"})
    try:
        body = await asyncio.wait_for(asyncio.to_thread(_fetch, full, timeout), timeout + 1)
    except (asyncio.TimeoutError, TimeoutError):
        raise PaperSearchError(f"paper search gave no answer within {timeout:g}s; try again later") from None
    except OSError as exc:
        raise PaperSearchError(f"paper search failed: {exc}") from None
    return format_feed(body)


def _fetch(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "tui-researcher (paper search)"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured https/http URL)
        return response.read(2_000_000)


def format_feed(body: bytes) -> str:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise PaperSearchError(f"paper search answered something that is not an Atom feed: {exc}") from None
    lines = []
    for i, entry in enumerate(root.findall("a:entry", _ATOM), 1):
        def text(tag: str) -> str:
            node = entry.find(tag, _ATOM)
            return " ".join((node.text or "").split()) if node is not None else ""
        authors = [" ".join((a.text or "").split()) for a in entry.findall("a:author/a:name", _ATOM)]
        who = ", ".join(authors[:3]) + (" et al." if len(authors) > 3 else "")
        abstract = text("a:summary")
        lines.append(f"{i}. {text('a:title')} ({text('a:published')[:4]}) - {who} - {text('a:id')}\n"
                     f"   {abstract[:400]}{'…' if len(abstract) > 400 else ''}")
    return "\n".join(lines) or "no papers found"
