"""Slack Assistant Bridge: config, backends, scheduler jobs, Slack delivery, CLI and app factory."""
