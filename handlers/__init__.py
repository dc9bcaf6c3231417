"""The Slack-facing edge: Bolt listeners that verify, filter, store and hand over. No OpenAI."""
