"""Anthropic Messages API ingress (`POST /v1/messages`): conversion to and from OpenAI chat."""
