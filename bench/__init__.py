"""Load benchmark of the bridge against the local fakes: run `python bench/load.py`."""
