"""Slack: the Web API client, delivery of replies, rendering, status lines, files from Slack."""
