"""Performance benchmarks (``make bench``); not part of the application."""
