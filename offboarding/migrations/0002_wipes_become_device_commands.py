
import django.db.models.deletion
from django.db import migrations, models


def wipes_to_device_commands(apps, schema_editor):
    """Every offboarding wipe becomes a device command with the same state, linked from its decision; a decision
    still held until its wipe names the new owner on the command, so the confirming sync hands the device over."""
    WipeRequest = apps.get_model("offboarding", "WipeRequest")
    DeviceCommand = apps.get_model("devices", "DeviceCommand")
    OffboardingDevice = apps.get_model("offboarding", "OffboardingDevice")
    for wipe in WipeRequest.objects.order_by("pk").select_related("decision").iterator():
        decision = wipe.decision
        held = decision is not None and decision.status == "awaiting_wipe"
        command = DeviceCommand.objects.create(
            organization_id=wipe.organization_id, device_id=wipe.device_id, kind="wipe", status=wipe.status,
            source="offboarding", requested_by_label="offboarding", fleet_host_id=wipe.fleet_host_id,
            attempts=wipe.attempts, next_attempt_at=wipe.next_attempt_at, last_error=wipe.last_error,
            status_at_send=wipe.status_at_send, sent_at=wipe.sent_at, confirmed_at=wipe.confirmed_at,
            failed_at=wipe.failed_at, hand_over_to_id=decision.reassign_to_id if held else None,
        )
        DeviceCommand.objects.filter(pk=command.pk).update(created_at=wipe.created_at, updated_at=wipe.updated_at)
        if decision is not None:
            OffboardingDevice.objects.filter(pk=decision.pk).update(wipe_command=command)



class Migration(migrations.Migration):

    dependencies = [
        ('devices', '0007_device_commands'),
        ('offboarding', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='offboardingdevice',
            name='wipe_command',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='offboarding_decision', to='devices.devicecommand'),
        ),
        migrations.RunPython(wipes_to_device_commands, migrations.RunPython.noop, elidable=False),
        migrations.DeleteModel(
            name='WipeRequest',
        ),
    ]
