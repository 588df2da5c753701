"""Old import path of :mod:`bridge.conversation` (the conversation is not a realtime session).

Kept only while the realtime fake (tests/fakes/realtime.py) still imports it from here; new
code imports :mod:`bridge.conversation`, and the realtime session owner is
:mod:`bridge.realtime_session`.
"""

from bridge.conversation import BridgeExit, Conversation, ConversationSettings

__all__ = ["BridgeExit", "Conversation", "ConversationSettings"]
