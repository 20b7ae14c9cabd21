"""Prompt caching as the real APIs do it, for the fake server: tokens are characters / 4.

Anthropic caches the prefix up to each ``cache_control`` breakpoint (tools, then system, then
messages, block by block), at most four a request (more is a 400). A breakpoint's prefix of at
least the model's minimum is written (``cache_creation_input_tokens``) unless already cached; a
request reads (``cache_read_input_tokens``) the longest cached prefix that ends on a block within
20 blocks before one of its breakpoints. A prefix under the minimum is neither written nor read.

OpenAI caches every prompt of at least 1,024 tokens and reads, per ``prompt_cache_key`` and
model, the longest prefix shared with an earlier prompt, in steps of 128 tokens past the first
1,024 (``prompt_tokens_details.cached_tokens``). Without a key, requests share one pool.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

MINIMUM = 1024
"""Tokens a cached prefix needs: Sonnet- and Opus-class Claude, and every OpenAI model."""
ANTHROPIC_MINIMUM = {"claude-haiku-3": 2048, "claude-haiku-4-5": 4096}
"""Model prefixes with a larger minimum (2,048 for Haiku 3 and 3.5; 4,096 for Haiku 4.5)."""
MAX_BREAKPOINTS = 4
LOOKBACK = 20
OPENAI_STEP = 128


class TooManyBreakpoints(ValueError):
    pass


def tokens(text: str) -> int:
    return max(1, len(text) // 4)


def canonical(*parts: Any) -> str:
    """A block as the cache sees it: its content and place, not where a breakpoint happens to sit."""
    return json.dumps([{k: v for k, v in p.items() if k != "cache_control"} if isinstance(p, dict) else p
                       for p in parts], sort_keys=True, separators=(",", ":"))


def anthropic_minimum(model: str) -> int:
    matches = [p for p in ANTHROPIC_MINIMUM if model.startswith(p)]
    return ANTHROPIC_MINIMUM[max(matches, key=len)] if matches else MINIMUM


def anthropic_blocks(body: dict) -> list[tuple[str, bool]]:
    """Every block of the prompt in render order, and whether it carries a breakpoint."""
    blocks = [(canonical("tool", t), "cache_control" in t) for t in body.get("tools") or []]
    system = body.get("system") or []
    if isinstance(system, str):
        system = [{"type": "text", "text": system}]
    blocks += [(canonical("system", b), "cache_control" in b) for b in system]
    for i, message in enumerate(body.get("messages") or []):
        content = message["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        blocks += [(canonical(i, message["role"], b), isinstance(b, dict) and "cache_control" in b)
                   for b in content]
    return blocks


@dataclass
class PromptCache:
    entries: set[str] = field(default_factory=set)
    prompts: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def anthropic(self, body: dict) -> dict[str, int]:
        """The usage of one Messages request, caching what it marks; ``TooManyBreakpoints`` for a 400."""
        blocks = anthropic_blocks(body)
        marks = [i for i, (_, marked) in enumerate(blocks) if marked] + (
            [len(blocks) - 1] if body.get("cache_control") and blocks else [])
        if len(marks) > MAX_BREAKPOINTS:
            raise TooManyBreakpoints(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                                     f"Found {len(marks)}.")
        model = body.get("model", "")
        sizes, keys, total, chain = [], [], 0, hashlib.sha256(model.encode())
        for text, _ in blocks:
            total += tokens(text)
            chain.update(text.encode())
            sizes.append(total)
            keys.append(chain.hexdigest())
        candidates = {j for m in marks for j in range(max(0, m - LOOKBACK + 1), m + 1)}
        hits = [j for j in candidates if keys[j] in self.entries]
        read = sizes[max(hits)] if hits else 0
        new = [m for m in marks if sizes[m] >= anthropic_minimum(model) and keys[m] not in self.entries]
        write = max(0, sizes[max(new)] - read) if new else 0
        self.entries.update(keys[m] for m in new)
        return {"input": total - read - write, "cache_read": read, "cache_write": write}

    def openai(self, body: dict) -> dict[str, int]:
        """The usage of one Chat Completions or Responses request: the cached share of the prompt, no write count."""
        messages = body.get("messages") or [body.get("instructions") or "", *(body.get("input") or [])]
        text = canonical(*(body.get("tools") or [])) + "".join(canonical(m) for m in messages)
        total = tokens(text)
        pool = self.prompts.setdefault((body.get("model", ""), body.get("prompt_cache_key") or ""), [])
        shared = max((len(os.path.commonprefix([text, seen])) for seen in pool), default=0) // 4
        cached = 0 if shared < MINIMUM else min(total, MINIMUM + (shared - MINIMUM) // OPENAI_STEP * OPENAI_STEP)
        if total >= MINIMUM:
            pool.append(text)
        return {"input": total - cached, "cache_read": cached, "cache_write": 0}
