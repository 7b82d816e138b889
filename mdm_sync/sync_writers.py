"""The sync's bulk writes, one writer per database: the ORM's bulk methods anywhere (SQLite, the embedded
default), ``COPY`` and set-based SQL on PostgreSQL. Both write the same rows; phase 2 (``sync_apply``) picks one.
"""

from operator import attrgetter

from django.db import connection as db

from core.bulk import copy_rows as _copy
from core.bulk import db_value as _db_value
from core.bulk import insert_rows
from devices.models import Device
from mdm_sync.models import SyncRun

SYNCED_FIELDS = [
    "fleet_host_id", "fleet_uuid", "fleet_hostname", "platform", "model", "os_version", "last_seen_at",
    "agent_version", "osquery_version", "mdm_status", "mdm_name", "mdm_device_status", "mdm_pending_action",
    "fleet_emails", "local_accounts", "fleet_synced_at", "fleet_missing_since", "fleet_facts_hash", "enrollment_status",
    "enrollment_issues", "mdm_enrolled_at", "unenrolled_at", "serial_number", "name", "updated_at",
    # Written back unchanged (the rows are locked) except by a first activation in stock (``sync_apply._put_in_use``).
    "availability_status", "assignment_status", "version",
]


class OrmWriter:
    """Bulk writes through the ORM: any database, among them SQLite (the embedded default)."""

    def update(self, devices: list) -> None:
        """``devices``: the matched devices (``sync_apply.MatchedDevice``), their synced values set."""
        if devices:
            values = attrgetter(*SYNCED_FIELDS)
            instances = [Device(pk=device.pk, **dict(zip(SYNCED_FIELDS, values(device), strict=True)))
                         for device in devices]
            Device.objects.bulk_update(instances, SYNCED_FIELDS, batch_size=500)

    def insert(self, model, fields: list[str], rows: list[tuple], *, returning_ids: bool = False) -> list[int]:
        """Insert one ``model`` row per tuple, its values in the order of ``fields`` (attnames: ``organization_id``);
        the new ids in row order when ``returning_ids``."""
        objects = [model(**dict(zip(fields, row, strict=True))) for row in rows]
        model.objects.bulk_create(objects)
        return [obj.pk for obj in objects] if returning_ids else []

    def close(self) -> None:
        pass


class CopyWriter:
    """PostgreSQL: the same rows, written with ``COPY`` (PERF_NOTES: ~10x Django's bulk methods).

    Updates go through a temporary table private to this session, named after the run, dropped when
    the writing is done (and by PostgreSQL at commit, at rollback, or with a dead connection), then one set-based
    ``UPDATE … FROM``. New rows (devices, their audit entries, history) are copied in from plain tuples, with no
    model instance (``core.bulk.insert_rows``); new devices take their ids from the table's sequence.
    """

    def __init__(self, run: SyncRun):
        self.stage = f"mdm_sync_stage_{int(run.pk)}"
        self.staged = False
        self.update_fields = [Device._meta.get_field(name) for name in SYNCED_FIELDS]
        self._values = attrgetter("pk", *(field.attname for field in self.update_fields))  # one C call a device
        self._jsons = [(i + 1, field) for i, field in enumerate(self.update_fields)
                       if field.get_internal_type() == "JSONField"]

    def _row(self, device: Device) -> list:
        row = list(self._values(device))
        for i, field in self._jsons:
            row[i] = _db_value(field, row[i])
        return row

    def update(self, devices: list[Device]) -> None:
        if not devices:
            return
        quote = db.ops.quote_name
        columns = [quote(field.column) for field in self.update_fields]
        with db.cursor() as cursor:
            if self.staged:
                cursor.execute(f"TRUNCATE {self.stage}")
            else:
                cursor.execute(f"CREATE TEMPORARY TABLE {self.stage} ON COMMIT DROP AS SELECT id, {', '.join(columns)} "
                               f"FROM {quote(Device._meta.db_table)} WITH NO DATA")
                self.staged = True
            _copy(cursor, self.stage, ["id", *columns], (self._row(device) for device in devices))
            assignments = ", ".join(f"{column} = s.{column}" for column in columns)
            cursor.execute(f"UPDATE {quote(Device._meta.db_table)} AS d SET {assignments} "
                           f"FROM {self.stage} AS s WHERE d.id = s.id")

    def insert(self, model, fields: list[str], rows: list[tuple], *, returning_ids: bool = False) -> list[int]:
        return insert_rows(model, fields, rows, returning_ids=returning_ids)

    def close(self) -> None:
        """Drop the staging table now: inside a caller's transaction, ON COMMIT would come late."""
        if self.staged:
            with db.cursor() as cursor:
                cursor.execute(f"DROP TABLE {self.stage}")
            self.staged = False
