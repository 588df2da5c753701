"""Powertools logger, metrics and tracer, built once for every function and layer module.

Every module logs through :data:`logger`, so the JSON lines of the HTTP functions and of the
worker carry the same service name and, once a handler has set it, the correlation id.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "voice-agent"

# Routes that publish no metric (health, lists) are normal, not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="VoiceAgent", service=SERVICE)
tracer = Tracer(service=SERVICE)
