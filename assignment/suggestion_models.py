"""Assignment suggestion models (DESIGN §7), imported by ``assignment.models``."""
