"""`assistant-bridge doctor`: checks of the whole setup, one verdict a line."""
