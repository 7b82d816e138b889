"""The device table keeps the indexes its readers use, so a bulk write (a first sync of 100,000 hosts, a CSV import)
updates fewer of them a row: the organization's single-column index goes (every other index of the table leads with
the organization), and the people's indexes (assignee, responsible technician) hold only the devices that name
one: a device in stock or fresh from Fleet names nobody. The partial indexes are built before the full ones go;
reversible (the full indexes come back). The foreign keys are untouched."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Django's names for the foreign keys' indexes (as created by 0001).
FULL_INDEXES = [
    ("devices_device_assignee_id_6d62741f", "assignee_id"),
    ("devices_device_organization_id_05d6b55a", "organization_id"),
    ("devices_device_responsible_technician_id_144c3b10", "responsible_technician_id"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('cockpit', '0009_audit_lean_indexes'),
        ('devices', '0010_device_fillfactor'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='device',
            index=models.Index(condition=models.Q(('assignee__isnull', False)), fields=['assignee'], name='device_assignee'),
        ),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(condition=models.Q(('responsible_technician__isnull', False)), fields=['responsible_technician'], name='device_technician'),
        ),
        migrations.RemoveIndex(
            model_name='device',
            name='device_org_assignee',
        ),
        migrations.AddIndex(
            model_name='device',
            index=models.Index(condition=models.Q(('assignee__isnull', False)), fields=['organization', 'assignee'], name='device_org_assignee'),
        ),
        # The full indexes go without touching the foreign keys (AlterField alone would drop and re-add each
        # constraint, checking the whole table again).
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "devices_device" ("{column}")')
                for name, column in FULL_INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='device',
                    name='assignee',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='devices', to='cockpit.employee'),
                ),
                migrations.AlterField(
                    model_name='device',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cockpit.organization'),
                ),
                migrations.AlterField(
                    model_name='device',
                    name='responsible_technician',
                    field=models.ForeignKey(blank=True, db_index=False, help_text='For shared or kiosk devices: the IT technician who answers for it', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
            ],
        ),
    ]
