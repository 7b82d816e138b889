"""Steps later apps plug into the devices flow (see ``cockpit.hooks``)."""

from cockpit.hooks import Steps

# Run by ``devices.services.device_create`` at the end of its transaction, with ``device=``, ``actor=``:
# e.g. assignment applies the device's waiting pre-assignment at once. Each step runs in its own savepoint;
# one that fails is logged and leaves the device created.
device_created = Steps("device_created", isolated=True, savepoints=True)
