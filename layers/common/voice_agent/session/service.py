"""The session use case: rate-limit, prefetch what we know of the user, mint."""

from __future__ import annotations

from collections.abc import Callable

from voice_agent.ratelimit import get_rate_limiter
from voice_agent.secrets import get_api_key
from voice_agent.session.minting import mint_session
from voice_agent.session.models import SessionRequest, SessionResponse
from voice_agent.session.openai_client import OpenAIRealtimeMinter, SessionMinter
from voice_agent.session.profile import prefetch_profile
from voice_agent.settings import get_settings

ProfileLoader = Callable[[str], str | None]


def create_session(user_id: str, request: SessionRequest,
                   minter: SessionMinter | None = None,
                   profile_loader: ProfileLoader | None = prefetch_profile) -> SessionResponse:
    """Mint a realtime session for ``user_id`` (already verified by the authorizer)."""
    settings = get_settings()
    # The key is checked first so a misconfigured deployment answers its 500 ("OPENAI_API_KEY
    # is not set") at once, before any other work.
    if minter is None:
        minter = OpenAIRealtimeMinter(settings.openai_base_url, get_api_key("OPENAI_API_KEY"),
                                      settings.openai_timeout_s)
    if settings.session_rate_limit > 0:
        get_rate_limiter(settings.memory_table).hit(
            user_id, "session", settings.session_rate_limit, settings.session_rate_window_s)
    profile = profile_loader(user_id) if profile_loader else None
    return mint_session(request, settings, minter, profile)
