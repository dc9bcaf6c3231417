"""HTTP (aiohttp + Bolt) and Socket Mode: how Slack reaches the bridge, and `serve`."""
