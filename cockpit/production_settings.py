"""Production mode: ``DJANGO_SETTINGS_MODULE=cockpit.production_settings``.

Everything of ``cockpit.settings`` plus the hardening that ``manage.py check --deploy`` asks for.
SECRET_KEY must come from the environment here; there is no fallback.
"""

import os
import sys

from cockpit.settings import *  # noqa: F403
from cockpit.settings import env_bool

DEBUG = False
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if len(SECRET_KEY) < 50:
    # A clear sentence, not a traceback: this is what an operator sees first when the deployment is incomplete.
    sys.exit("Fleet Cockpit cannot start in production mode: the SECRET_KEY environment variable is "
             f"{'not set' if not SECRET_KEY else 'shorter than 50 characters'}. Set it to a long random value, e.g. "
             "the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
