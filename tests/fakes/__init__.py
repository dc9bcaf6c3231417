"""Local fake Slack and OpenAI servers that speak the real wire formats."""
