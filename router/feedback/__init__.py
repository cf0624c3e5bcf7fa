"""Closing the loop: feedback and outcomes recorded against logged requests."""
