"""Shared package of the voice agent backend (the Lambda layer).

Imported the same way by every Lambda function, by the local runner (`voice-agent dev`)
and by the tests.
"""
