"""A turn of the assistant: opened over queued messages, started, polled, finished."""
