"""Celery tasks of assignment suggestion."""
