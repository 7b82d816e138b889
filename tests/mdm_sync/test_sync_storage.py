"""The device table keeps room on its pages for the sync's updates (devices migration 0010): on PostgreSQL, a
changed device's new row version stays on its page without new index entries (a HOT update)."""

import pytest
from django.db import connection

from devices.models import Device


def test_the_device_table_leaves_room_for_the_syncs_updates(db):
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [Device._meta.db_table])
        (options,) = cursor.fetchone()
    assert "fillfactor=85" in (options or [])
