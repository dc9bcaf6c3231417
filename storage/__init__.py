"""Durable state: the message queue, turns, replies to post. Knows no Slack or OpenAI."""
