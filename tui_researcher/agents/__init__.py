"""LLM planners: ``make_planner(config)`` for the CLI, ``check_provider(config)`` for ``doctor``.

A missing or unusable credential is an error here, at start, naming the variable to set; there
is no silent fallback to the offline planner.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import replace
from typing import Any, Callable

from ..backends.helper import SECRET_ENV
from ..config import Config
from ..errors import ResearcherError
from .cli_agents import CLI_PROVIDERS, KEY_ENV, check_cli, make_cli_provider
from .providers import Settings
from .tools import ToolPolicy
from ..money import usd
from .usage import price_for

PROVIDERS = ("anthropic", "openai")
"""The SDK providers; the CLI ones (``cli_agents.CLI_PROVIDERS``) need no key of ours."""
DEFAULTS = {
    "anthropic": {"model": "claude-sonnet-5-5", "api_key_env": "ANTHROPIC_API_KEY",
                  "auth_token_env": "ANTHROPIC_AUTH_TOKEN"},
    "openai": {"model": "gpt-6-sol", "api_key_env": "OPENAI_API_KEY", "auth_token_env": None},
}


def make_planner(config: Config) -> Callable[[Any], Any]:
    """A factory ``workbench -> planner``; the provider's client is made once, here, for the whole run."""
    provider = _provider(config)
    settings: Settings = provider.cli.settings if config.agent.provider in CLI_PROVIDERS else provider.settings
    by_role = {s.role: _provider(config, model=s.model) for s in config.agent.specialists
               if s.model and s.model != settings.model}
    _not_dumpable()
    secret_env = tuple(n for n in (config.agent.api_key_env, config.agent.auth_token_env,
                                   settings.credential_env, KEY_ENV.get(config.agent.provider)) if n)

    def factory(bench: Any) -> Any:
        from .leader import LLMPlanner
        return LLMPlanner(bench, provider, config.agent.pricing, ToolPolicy.from_config(config, secret_env),
                          role_providers=by_role)

    return factory


def _provider(config: Config, model: str | None = None) -> Any:
    """The configured provider; ``model`` for a specialist's own model."""
    if config.agent.provider in CLI_PROVIDERS:
        if model:
            config = config.model_copy(update={"agent": config.agent.model_copy(update={"model": model})})
        return make_cli_provider(config)
    settings = provider_settings(config)
    if model:
        settings = replace(settings, model=model)
    if settings.name == "anthropic":
        from .providers.anthropic import AnthropicProvider
        return AnthropicProvider(settings)
    from .providers.openai import OpenAIProvider
    return OpenAIProvider(settings)


def provider_settings(config: Config) -> Settings:
    agent = config.agent
    if agent.provider not in PROVIDERS:
        raise ResearcherError(f"agent.provider {agent.provider!r} has no LLM planner; choose {' or '.join(PROVIDERS)}")
    defaults = DEFAULTS[agent.provider]
    key_env = agent.api_key_env or defaults["api_key_env"]
    token_env = agent.auth_token_env or defaults["auth_token_env"]
    for key, name in (("api_key_env", key_env), ("auth_token_env", token_env)):
        if name and not SECRET_ENV.search(name):
            raise ResearcherError(
                f"agent.{key}: {name!r} would not be scrubbed from the environment of commands and training; "
                f"use a name containing KEY, TOKEN, SECRET, PASSWORD or CREDENTIAL")
    api_key = os.environ.get(key_env, "").strip() or None
    token = os.environ.get(token_env, "").strip() or None if token_env else None
    if not api_key and not token:
        also = f" or {token_env} (agent.auth_token_env)" if token_env else ""
        raise ResearcherError(f"agent.provider {agent.provider} needs a key: set {key_env} (agent.api_key_env){also}")
    return Settings(name=agent.provider, model=agent.model or defaults["model"], base_url=agent.base_url or None,
                    api_key=api_key, auth_token=token, credential_env=key_env if api_key else token_env or key_env,
                    timeout=float(agent.request_timeout), max_retries=agent.max_retries)


def check_provider(config: Config) -> list[str]:
    """Lines for ``doctor``: provider, model, endpoint, credential and price; no network, no secret shown."""
    agent = config.agent
    if agent.provider == "offline":
        return ["agent: offline planner (no key, no network)"]
    if agent.provider in CLI_PROVIDERS:
        return check_cli(config)
    try:
        settings = provider_settings(config)
    except ResearcherError as exc:
        return [f"agent: problem: {exc}"]
    lines = [f"agent: {settings.name} model {settings.model} at {settings.base_url or 'the default endpoint'}",
             f"agent: credential from {settings.credential_env} ({'API key' if settings.api_key else 'auth token'}, "
             f"{len(settings.api_key or settings.auth_token or '')} chars)"]
    price = price_for(settings.model, agent.pricing)
    if price is None:
        lines.append(f"agent: problem: no price for {settings.model}: costs count as $0 until agent.pricing has it")
    else:
        lines.append(f"agent: price {usd(price.input)}/{usd(price.output)} per million input/output tokens")
    return lines


def _not_dumpable() -> None:
    """This process now holds a key: other processes of the same user may not read its memory or environ."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE, 0
        except (OSError, AttributeError):
            pass
