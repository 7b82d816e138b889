FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 COCKPIT_VAR_DIR=/var/lib/cockpit STATIC_ROOT=/app/staticfiles
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY cockpit cockpit
COPY devices devices
COPY enrollment enrollment
COPY assignment assignment
COPY offboarding offboarding
COPY mdm_sync mdm_sync
COPY webhooks webhooks
COPY scim scim
COPY sso sso
COPY mfa mfa
COPY templates templates
COPY locale locale
COPY manage.py ./
RUN pip install --no-cache-dir . \
 && SECRET_KEY=build-only DJANGO_SETTINGS_MODULE=cockpit.production_settings python manage.py collectstatic --no-input \
 && useradd --system --home /app cockpit && mkdir -p /var/lib/cockpit && chown cockpit /var/lib/cockpit
USER cockpit
EXPOSE 8000
CMD ["gunicorn", "cockpit.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60", "--graceful-timeout", "30", "--keep-alive", "5", "--access-logfile", "-"]
