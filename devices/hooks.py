"""Steps later apps plug into the devices flow (see ``core.hooks``)."""

from core.hooks import Steps

# Run by ``devices.services.device_create`` at the end of its transaction, with ``device=``, ``actor=``:
# e.g. assignment applies the device's waiting pre-assignment at once. Each step runs in its own savepoint;
# one that fails is logged and leaves the device created.
device_created = Steps("device_created", isolated=True, savepoints=True)

# Run inside the transaction that settles a device command (``devices.commands``: confirmed, failed, or its
# held device handed over or not), with ``command=``, ``actor=``: e.g. offboarding closes the decision that
# asked for the wipe. A failing step rolls the settlement back.
command_settled = Steps("command_settled")
