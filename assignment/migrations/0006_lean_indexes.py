"""The pre-assignment tables keep the indexes their readers use, so a CSV import of 100,000 rows (a pre-assignment
and its groups a row) updates fewer of them a row: the pre-assignment's organization index goes (the table's other
indexes lead with the organization), its device index holds only the pre-assignments that name a device (most are
still waiting for theirs), and the groups' table loses its pre-assignment index (its unique pair's index leads with
that column). That table becomes the model ``PreAssignmentGroup`` (the many-to-many's ``through``), Django's own
table kept as it is, rows and constraints included: a model is the only way to say its column needs no index.

The partial index is built before the full one goes; reversible (the full indexes come back). The foreign keys are
untouched."""

import django.db.models.deletion
from django.db import migrations, models

# Django's names for the foreign keys' indexes (as created by 0001): (index, table, column).
FULL_INDEXES = [
    ("assignment_preassignment_device_id_4ad56599", "assignment_preassignment", "device_id"),
    ("assignment_preassignment_organization_id_487a73c5", "assignment_preassignment", "organization_id"),
    ("assignment_preassignment_groups_preassignment_id_31d42364", "assignment_preassignment_groups",
     "preassignment_id"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('assignment', '0005_csvimportrow'),
        ('cockpit', '0009_audit_lean_indexes'),
        ('devices', '0011_lean_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='preassignment',
            index=models.Index(condition=models.Q(('device__isnull', False)), fields=['device'], name='preassignment_device'),
        ),
        # The state changes alone, the tables as they are: the full indexes go without touching the foreign keys
        # (AlterField alone would drop and re-add each constraint, checking the whole table again).
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
                for name, table, column in FULL_INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='preassignment',
                    name='device',
                    field=models.ForeignKey(blank=True, db_index=False, help_text='The device it was applied to or conflicts with', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='pre_assignments', to='devices.device'),
                ),
                migrations.AlterField(
                    model_name='preassignment',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cockpit.organization'),
                ),
                migrations.CreateModel(
                    name='PreAssignmentGroup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cockpit.group')),
                        ('preassignment', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='assignment.preassignment')),
                    ],
                    options={
                        'db_table': 'assignment_preassignment_groups',
                        'unique_together': {('preassignment', 'group')},
                    },
                ),
                migrations.AlterField(
                    model_name='preassignment',
                    name='groups',
                    field=models.ManyToManyField(blank=True, related_name='pre_assignments', through='assignment.PreAssignmentGroup', to='cockpit.group'),
                ),
            ],
        ),
    ]
