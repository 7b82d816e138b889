"""The sync's bulk writes, one writer per database: the ORM's bulk methods anywhere (SQLite, the embedded
default), ``COPY`` and set-based SQL on PostgreSQL. Both write the same rows; phase 2 (``sync_apply``) picks one.
"""

import json
from collections.abc import Iterable
from operator import attrgetter

from django.db import connection as db

from core.models import AuditEvent
from devices.models import Device, DeviceHistory
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

    def update(self, devices: list[Device]) -> None:
        if devices:
            Device.objects.bulk_update(devices, SYNCED_FIELDS, batch_size=500)

    def insert(self, devices: list[Device]) -> None:
        Device.objects.bulk_create(devices)

    def insert_audit(self, events: list[AuditEvent]) -> None:
        AuditEvent.objects.bulk_create(events)

    def insert_history(self, rows: list[DeviceHistory]) -> None:
        DeviceHistory.objects.bulk_create(rows)

    def close(self) -> None:
        pass


class CopyWriter:
    """PostgreSQL: the same rows, written with ``COPY`` (PERF_NOTES: ~10x Django's bulk methods).

    Updates go through a temporary table private to this session, named after the run, dropped when
    the writing is done (and by PostgreSQL at commit, at rollback, or with a dead connection), then one set-based
    ``UPDATE … FROM``. New devices take their ids from the table's sequence and are copied in
    directly, their audit entries too.
    """

    def __init__(self, run: SyncRun):
        self.stage = f"mdm_sync_stage_{int(run.pk)}"
        self.staged = False
        self.update_fields = [Device._meta.get_field(name) for name in SYNCED_FIELDS]

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
            _copy(cursor, self.stage, ["id", *columns], (
                [device.pk, *(_db_value(field, getattr(device, field.attname)) for field in self.update_fields)]
                for device in devices
            ))
            assignments = ", ".join(f"{column} = s.{column}" for column in columns)
            cursor.execute(f"UPDATE {quote(Device._meta.db_table)} AS d SET {assignments} "
                           f"FROM {self.stage} AS s WHERE d.id = s.id")

    def insert(self, devices: list[Device]) -> None:
        with db.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                           [Device._meta.db_table, len(devices)])
            for device, (pk,) in zip(devices, cursor.fetchall(), strict=True):
                device.pk = pk
            _copy_models(cursor, Device, devices, with_pk=True)

    def insert_audit(self, events: list[AuditEvent]) -> None:
        with db.cursor() as cursor:
            _copy_models(cursor, AuditEvent, events, with_pk=False)

    def insert_history(self, rows: list[DeviceHistory]) -> None:
        with db.cursor() as cursor:
            _copy_models(cursor, DeviceHistory, rows, with_pk=False)

    def close(self) -> None:
        """Drop the staging table now: inside a caller's transaction, ON COMMIT would come late."""
        if self.staged:
            with db.cursor() as cursor:
                cursor.execute(f"DROP TABLE {self.stage}")
            self.staged = False


def _db_value(field, value):
    """A model value as ``COPY`` takes it: JSON as text, the rest as psycopg adapts it."""
    if value is not None and field.get_internal_type() == "JSONField":
        return json.dumps(value, cls=field.encoder)
    return value


def _copy(cursor, table: str, columns: list[str], rows: Iterable[list]) -> None:
    with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_models(cursor, model, objects: list, *, with_pk: bool) -> None:
    """``COPY`` model instances into their table, every concrete column, defaults applied as the ORM would
    (``auto_now`` fields get the time, JSON goes as text)."""
    fields = [field for field in model._meta.concrete_fields if with_pk or not field.primary_key]
    columns = [db.ops.quote_name(field.column) for field in fields]
    values = attrgetter(*(field.attname for field in fields))  # one C call a row
    # The few columns whose value is not the attribute as it stands.
    special = [(i, field) for i, field in enumerate(fields)
               if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
               or field.get_internal_type() == "JSONField"]

    def row(obj) -> list:
        out = list(values(obj))
        for i, model_field in special:
            out[i] = _db_value(model_field, model_field.pre_save(obj, True))
        return out

    _copy(cursor, db.ops.quote_name(model._meta.db_table), columns, (row(obj) for obj in objects))

