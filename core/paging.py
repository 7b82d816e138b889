"""Paginating large tenant lists: cached exact counts, and pages fetched by a deferred join.

**Counts.** A page of 50 devices out of 100,000 costs a few milliseconds to fetch, and as much again
to COUNT the whole filtered set: on every request, although the answer changes only when someone
writes. So counts are cached per organization, filter and *data generation*; any save, delete or
group-membership change of an organization's devices, employees or groups starts a new
generation (each app connects its models with :func:`track_org_data`), and bulk writers that bypass model signals
(``QuerySet.update``, ``bulk_create``, raw SQL in the Fleet sync) call :func:`org_data_changed`
themselves. A short expiry bounds any write that slips past both.

**Pages.** ``ORDER BY id DESC LIMIT 50`` for one tenant tempts PostgreSQL to walk the global primary
key and discard other tenants' rows (10,000 of them, 2.5 ms, in benchmarks/). The page's ids are
read first, an index-only scan of an index led by ``organization``; the rows are then fetched by
primary key with their joins. Both happen in one statement (``WHERE id IN (SELECT id … LIMIT 50)``,
which PostgreSQL and SQLite accept), so a page costs one round trip; ``page_rows`` may add to that
statement what the page needs. (The device list, the hottest, runs its own SQL: ``devices.listing``.)
"""

import uuid

from django.core.cache import cache
from django.db import transaction

COUNT_TTL_SECONDS = 60
IGNORED_PARAMS = {"page", "page_size", "ordering", "format"}


def _generation_key(organization_id) -> str:
    return f"org-data-generation:{organization_id}"


def org_data_changed(organization_id) -> None:
    """Invalidate every cached count of the organization, now and again when the transaction commits
    (a reader between the write and its commit could otherwise cache the old count as the new one)."""

    def bump():
        cache.set(_generation_key(organization_id), uuid.uuid4().hex, None)

    bump()
    transaction.on_commit(bump)


def _generation(organization_id) -> str:
    key = _generation_key(organization_id)
    generation = cache.get(key)
    if generation is None:
        generation = uuid.uuid4().hex
        if not cache.add(key, generation, None):
            generation = cache.get(key) or generation
    return generation


# The models whose saves, deletes and group memberships start a new generation; each app registers its own from its
# AppConfig.ready with :func:`track_org_data` (the core: employees and groups; devices: devices).
GENERATION_MODELS: set[str] = set()


def track_org_data(model, *through_models) -> None:
    """A save or delete of ``model`` (and a change to its ``through_models`` memberships) starts a new generation
    of its organization's cached counts and lists."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    GENERATION_MODELS.add(model._meta.label_lower)
    post_save.connect(_instance_changed, sender=model, dispatch_uid=f"org-data-save-{model._meta.label_lower}")
    post_delete.connect(_instance_changed, sender=model, dispatch_uid=f"org-data-delete-{model._meta.label_lower}")
    for through in through_models:
        m2m_changed.connect(_memberships_changed, sender=through,
                            dispatch_uid=f"org-data-m2m-{through._meta.label_lower}")


def _instance_changed(sender, instance, **kwargs):
    org_data_changed(instance.organization_id)


def _memberships_changed(sender, instance, action, **kwargs):
    if action.startswith("post_"):
        org_data_changed(instance.organization_id)


def org_generation_key(organization_id, name: str) -> str:
    """A cache key for something computed from the organization's devices, employees or groups only: it
    changes with every write to them (:func:`org_data_changed`), so a value cached under it is never stale."""
    return f"org-data:{organization_id}:{_generation(organization_id)}:{name}"
