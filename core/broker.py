"""The embedded job broker (no ``REDIS_URL``): kombu's filesystem transport, with each message written whole or not
at all.

kombu writes a message straight into the queue folder; when the disk is full the write fails half-way and leaves a
truncated file there, which the worker then reads and dies on (``JSONDecodeError``: "Unrecoverable error"), again at
each restart. Here a message is written to a hidden ``.part`` file beside the queue (a name the workers never read),
then renamed into place, which is atomic: a worker sees a complete message or none, and a failed write removes its
part file and raises kombu's ``ChannelError``, which ``core.dispatch`` answers as 503 (nothing was queued).

``cockpit/settings.py`` selects it with ``CELERY_BROKER_TRANSPORT`` beside ``CELERY_BROKER_URL = "filesystem://"``.
"""

import os
import uuid
from contextlib import suppress
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class FilesystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue``: written in full under a hidden name, then renamed into the queue."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb", buffering=0) as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with suppress(OSError):
                os.remove(partial)
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel
