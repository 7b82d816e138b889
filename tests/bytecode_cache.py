"""Loaded first (``-p tests.bytecode_cache`` in pyproject's pytest options), before the other plugins and Django.

PYTHONDONTWRITEBYTECODE (the Docker image sets it) keeps ``__pycache__`` out of the tree, but then every run compiled
the project and assertion-rewrote every test module afresh, in each xdist worker (~8 CPU-s a worker), and each real
process a test starts compiled the project again. Under it, compiled files go to a cache outside the tree instead
(PYTHONPYCACHEPREFIX, for this process and the processes it starts)."""

import os
import sys
import tempfile

if sys.dont_write_bytecode:
    sys.pycache_prefix = sys.pycache_prefix or os.path.join(tempfile.gettempdir(), "cockpit-test-pycache")
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
