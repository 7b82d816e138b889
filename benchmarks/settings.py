"""Settings for the device-list benchmark: the real cockpit settings, plus a trivial baseline view.

Only PostgreSQL is accepted: the figures are meant to match production, and SQLite would mislead.
``benchmarks/bench_device_list.py`` sets ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/cockpit_bench``).
"""

from django.core.exceptions import ImproperlyConfigured

from cockpit.settings import *  # noqa: F403
from cockpit.settings import DATABASES

ROOT_URLCONF = "benchmarks.urls"
DEBUG = False

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "benchmarks.settings needs PostgreSQL: set DATABASE_URL=postgres://user@host:port/cockpit_bench "
        f"(got engine {DATABASES['default']['ENGINE']!r})."
    )
