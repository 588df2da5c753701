"""Minting short-lived OpenAI Realtime sessions for a signed-in user."""
