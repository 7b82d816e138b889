"""Pre-assignments and CSV imports (below); suggestion models live in ``suggestion_models``."""

from assignment.suggestion_models import *  # noqa: E402,F401,F403  (Django finds models through this module)
