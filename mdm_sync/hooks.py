"""Steps that run after each successful sync: the apps that build on the sync plug in here.

Pre-assignment (assignment), automatic assignment on enrollment (enrollment), device command
confirmation and group labels (mdm_sync itself) and assignment suggestion each register a function
from their ``wiring.connect()`` (called by their ``AppConfig.ready``)::

    after_sync.register(apply_pre_assignments, order=10)

A step is called after the sync's own transaction committed, as
``step(organization=..., run=..., device_ids=..., actor=...)`` where ``device_ids`` are the
devices the run created or updated (a step that must look at every device queries them itself).
It returns a small dict of counts for the run's record, or None. Steps run in ``order``: pre-
assignment (an admin's explicit intent, 10) before enrollment's automatic assignment (20), command
confirmation (30), suggestion (50), then the groups' Fleet labels (60). A failing step is logged and recorded on the run
(``SyncRun.follow_ups``); it neither undoes the sync nor stops the others.
"""

from core.hooks import Steps

after_sync = Steps("after_sync", isolated=True)
