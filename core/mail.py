"""The e-mail backend of a machine without a mail server (``EMAIL_BACKEND``'s default): each message is saved whole
as an ``.eml`` file in ``EMAIL_FILE_PATH`` (``var/mail/``), which any mail client opens, and one INFO line says so.

Django's console backend printed every message in full on standard output: the web server's console filled with
MIME parts, and a Celery worker (which logs what its tasks print) showed each line of each e-mail as a WARNING.
"""

import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

logger = logging.getLogger(__name__)


class DevEmailBackend(BaseEmailBackend):
    def __init__(self, *, file_path=None, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            path = self.directory / f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                path.write_bytes(message.message().as_bytes(linesep="\n"))
            except OSError:
                if not self.fail_silently:
                    raise
                continue
            logger.info("Sent an e-mail (%s) to %d recipient(s); saved in %s", message.subject, len(recipients), path)
            sent += 1
        return sent
