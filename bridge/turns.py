"""The turn state machine: whose turn it is, which calls are open, when to ask for a reply.

:class:`TurnCoordinator` holds no sockets and awaits nothing: the conversation feeds it what
happened (a response was requested, created, done; a call was announced, finished, answered;
a session was replaced) and acts on what it answers (start this call, send one follow-up
``response.create`` now, end after the next reply). Its rules, tested directly in
tests/unit/test_bridge_turns.py:

* one response at a time: a new ``response.create`` waits while one is active;
* each response's calls are answered, then followed by exactly one ``response.create``, after
  both the last answer and that response's ``response.done``;
* a call announced twice (``function_call_arguments.done`` and ``output_item.done``) runs once;
* a replaced session's calls and responses are forgotten: their answers would name
  ``call_id``s the new session does not know;
* the conversation is idle when no response runs, no call runs and no batch awaits its
  follow-up; rollover and the next typed line wait for idle (or, for the line, for a spoken
  question that wants its answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bridge.events import FunctionCall


@dataclass
class Batch:
    """The function calls of one response."""

    generation: int
    pending: set[str] = field(default_factory=set)
    response_done: bool = False
    followed_up: bool = False
    ends_conversation: bool = False


@dataclass(frozen=True)
class DoneOutcome:
    """What to do after a ``response.done``.

    Attributes:
        follow_up: send the batch's one ``response.create`` now.
        end: the conversation ends now (the reply after a goodbye tool is done).
        question_key: the bridge's spoken question this response carried, if any.
    """

    follow_up: bool = False
    end: bool = False
    question_key: str | None = None


class TurnCoordinator:
    """Pure state of the turns of one conversation (across its realtime sessions)."""

    def __init__(self) -> None:
        self.generation = 0  # which realtime session is current; bumped on each new one
        self.response_active = False
        self.running_calls = 0
        self.switching = False  # a rollover is in progress: typed input waits
        self.answer_wanted = False  # a spoken question waits for the user's answer
        self._batches: dict[str, Batch] = {}
        self._seen_calls: set[str] = set()
        self._end_after_next_response = False
        self._requests: set[str] = set()  # event ids of our response.create not yet accepted
        self._question_responses: dict[str, str] = {}  # response id → question key

    # --- sessions ---------------------------------------------------------------------------

    def session_replaced(self) -> int:
        """A new realtime session is current; returns its generation.

        Calls and responses of the old session can no longer be answered there.
        """
        self.generation += 1
        self._batches.clear()
        self.response_active = False
        return self.generation

    # --- predicates the conversation waits on -----------------------------------------------

    @property
    def idle(self) -> bool:
        """No response runs, no call runs, no batch awaits its follow-up."""
        return (not self.response_active and self.running_calls == 0
                and all(b.followed_up for b in self._batches.values()))

    @property
    def may_request(self) -> bool:
        """A ``response.create`` may be sent (no other response is active)."""
        return not self.response_active

    @property
    def may_read_line(self) -> bool:
        """The next typed line may be read: the turn is over, or a question wants its answer."""
        return (self.idle or self.answer_wanted) and not self.switching

    # --- responses --------------------------------------------------------------------------

    def response_requested(self, event_id: str) -> None:
        """Our ``response.create`` with this event id is being sent."""
        self.response_active = True
        self._requests.add(event_id)

    def request_refused(self, event_id: str | None) -> bool:
        """An ``error`` arrived; True when it refused one of our ``response.create`` events.

        No ``response.done`` will come for a refused request, so the turn stops waiting.
        """
        if event_id is None or event_id not in self._requests:
            return False
        self._requests.discard(event_id)
        self.response_active = False
        return True

    def response_created(self, response_id: str, question_key: str | None = None) -> None:
        """The server started a response (ours or its own, e.g. after server VAD)."""
        self._requests.clear()  # accepted: errors can no longer refer to them
        if question_key is not None:
            self._question_responses[response_id] = question_key
        self.response_active = True

    def response_done(self, response_id: str) -> DoneOutcome:
        """A response ended (completed, cancelled, failed)."""
        self.response_active = False
        key = self._question_responses.pop(response_id, None)
        batch = self._batches.get(response_id)
        if batch is not None:
            batch.response_done = True
            return DoneOutcome(follow_up=self._take_follow_up(batch), question_key=key)
        if self._end_after_next_response:
            return DoneOutcome(end=True, question_key=key)
        return DoneOutcome(question_key=key)

    # --- calls ------------------------------------------------------------------------------

    def call_announced(self, call: FunctionCall) -> Batch | None:
        """A call was seen; returns its batch when it is new (start it), None for a repeat."""
        if call.call_id in self._seen_calls:
            return None
        self._seen_calls.add(call.call_id)
        batch = self._batches.setdefault(call.response_id, Batch(self.generation))
        batch.pending.add(call.call_id)
        self.running_calls += 1
        return batch

    def call_finished(self, batch: Batch) -> bool:
        """The call's executor returned; True when its session is still current (answer it)."""
        self.running_calls -= 1
        return batch.generation == self.generation

    def call_answered(self, batch: Batch, call_id: str, *, ends_conversation: bool) -> bool:
        """The call's ``function_call_output`` was sent; True to send the follow-up now."""
        batch.pending.discard(call_id)
        batch.ends_conversation |= ends_conversation
        return self._take_follow_up(batch)

    def _take_follow_up(self, batch: Batch) -> bool:
        """True exactly once per batch: all calls answered and the response done."""
        if batch.followed_up or batch.pending or not batch.response_done:
            return False
        batch.followed_up = True
        # Finished batches are dropped so a long conversation does not accumulate them.
        self._batches = {k: b for k, b in self._batches.items() if b is not batch}
        if batch.ends_conversation:
            self._end_after_next_response = True
        return True
