"""Self-tests: the fakes driven through the real SDK clients."""
