"""The audit table keeps the indexes its readers use: the organization's single-column index goes (the three
(organization, …) indexes lead with it); the actors' indexes hold only the entries that name one (a user's or
token's deletion sets them to NULL). Each index is one write per entry, and bulk work writes 100,000 entries.
The partial indexes are built before the full ones go; reversible (the full indexes come back)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# Django's names for the foreign keys' indexes (as created by 0001).
FULL_INDEXES = [
    ("cockpit_auditevent_actor_token_id_39a69f5f", "actor_token_id"),
    ("cockpit_auditevent_actor_user_id_448dcd7c", "actor_user_id"),
    ("cockpit_auditevent_organization_id_1c7f07df", "organization_id"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('cockpit', '0008_job_language'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('actor_user__isnull', False)), fields=['actor_user'], name='audit_actor_user'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('actor_token__isnull', False)), fields=['actor_token'], name='audit_actor_token'),
        ),
        # The full indexes go without touching the foreign keys (AlterField alone would drop and re-add each
        # constraint, checking the whole table again).
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "cockpit_auditevent" ("{column}")')
                for name, column in FULL_INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='auditevent',
                    name='actor_token',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='cockpit.apitoken'),
                ),
                migrations.AlterField(
                    model_name='auditevent',
                    name='actor_user',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='auditevent',
                    name='organization',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cockpit.organization'),
                ),
            ],
        ),
    ]
