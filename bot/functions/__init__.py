"""Python functions the model may call: the registry, the schema builder, the calls, the built-ins.

What a team's own functions import: `from bot.functions import ToolContext, tool`.
"""

from bot.functions.registry import ToolContext, tool

__all__ = ["ToolContext", "tool"]
