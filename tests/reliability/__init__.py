"""Reliability and security evidence: fuzzing, attacks, fault injection, limits."""
