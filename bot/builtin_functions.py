"""The built-in functions under the name assistants files give them (see bot.functions.builtin):
`functions = ["bot.builtin_functions:current_time", "bot.builtin_functions:who_am_i"]`."""

from bot.functions.builtin import current_time, who_am_i

__all__ = ["current_time", "who_am_i"]
