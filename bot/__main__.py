"""`python -m bot` is the same program as `assistant-bridge`."""

from bot.cli import main

main()
