"""Quiet logs (issue #14 §6): cockpit/settings.py ``LOGGING`` with core/logfilters.py, and core/mail.py.

Each test reproduces one source of noise seen under ``make run``: a 403 printed twice with two tracebacks, the
favicon's 404 on every page, kombu's "No hostname was supplied", e-mails printed line by line (as WARNINGs in a
Celery worker)."""

import logging
import os
import sys

import pytest
from django.core import mail
from django.core.mail import EmailMessage, send_mail
from django.urls import reverse
from kombu import Connection

from cockpit import settings as project_settings
from core.logfilters import AccessLineAtInfo, ClientErrorsWithoutTraceback, DropMessage
from core.mail import DevEmailBackend
from core.models import Membership
from tests.conftest import member


def _records(caplog, name):
    return [r for r in caplog.records if r.name == name]


def test_a_403_is_one_warning_line_without_a_traceback(client, org, caplog):
    client.force_login(member(org, Membership.Role.VIEWER))
    with caplog.at_level(logging.INFO):
        response = client.get(reverse("fleet_settings", args=[org.slug]))
    assert response.status_code == 403
    [record] = _records(caplog, "django.request")
    assert record.levelno == logging.WARNING and record.getMessage().startswith("Forbidden (Permission denied)")
    assert record.exc_info is None and "Traceback" not in caplog.text
    # Django's own console handler (which printed it a second time under DEBUG) is gone: the root one prints it.
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django.request").propagate


def test_a_404_is_one_warning_line_and_the_favicon_is_none(cockpit_client, org, caplog):
    with caplog.at_level(logging.INFO):
        assert cockpit_client.get(reverse("dashboard", args=[org.slug])).status_code == 200
        assert cockpit_client.get("/favicon.ico").status_code == 200
        assert cockpit_client.get(f"/o/{org.slug}/no-such-page/").status_code == 404
    [record] = _records(caplog, "django.request")
    assert record.levelno == logging.WARNING and record.getMessage() == f"Not Found: /o/{org.slug}/no-such-page/"
    assert record.exc_info is None


def _request_record(status: int, level=logging.WARNING) -> logging.LogRecord:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", level, __file__, 1, "Some error: %s", ("/x/",), sys.exc_info())
    record.status_code = status
    return record


def test_server_errors_keep_their_traceback():
    record = _request_record(500, logging.ERROR)
    assert ClientErrorsWithoutTraceback().filter(record) and record.exc_info is not None
    client_error = _request_record(403)
    assert ClientErrorsWithoutTraceback().filter(client_error) and client_error.exc_info is None


def test_runserver_access_lines_are_info():
    record = logging.LogRecord("django.server", logging.WARNING, __file__, 1, '"GET /x/ HTTP/1.1" 403 10', (), None)
    assert AccessLineAtInfo().filter(record)
    assert (record.levelno, record.levelname) == (logging.INFO, "INFO")
    assert logging.getLogger("django.server").propagate  # into the root handler, in its one format


def test_kombu_no_hostname_warning_is_dropped(caplog, tmp_path):
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {"data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["queue"]),
               "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"])}
    with caplog.at_level(logging.DEBUG, logger="kombu"):
        # The embedded broker's URL has no host: kombu warns about it each time a connection is described.
        with Connection("filesystem://", transport="core.broker:FilesystemTransport",
                        transport_options=options) as connection:
            connection.ensure_connection(max_retries=1)
            assert connection.info()["hostname"] == "localhost"
        logging.getLogger("kombu.connection").warning("Something else about connections")
    messages = [r.getMessage() for r in _records(caplog, "kombu.connection")]
    assert messages == ["Something else about connections"]


def test_drop_message_matches_the_start_only():
    drop = DropMessage(starts_with="No hostname was supplied")
    keep = logging.LogRecord("kombu.connection", logging.WARNING, __file__, 1, "Hostname: %s", ("No hostname",), None)
    gone = logging.LogRecord("kombu.connection", logging.WARNING, __file__, 1,
                             "No hostname was supplied. Reverting to default '%s'", ("localhost",), None)
    assert drop.filter(keep) and not drop.filter(gone)


# --- e-mail -------------------------------------------------------------------------------------------------------


def test_the_default_mail_backend_writes_files_not_stdout():
    if os.environ.get("EMAIL_BACKEND"):
        pytest.skip("EMAIL_BACKEND is set in this environment")
    assert project_settings.EMAIL_BACKEND == "core.mail.DevEmailBackend"
    assert project_settings.EMAIL_FILE_PATH == project_settings.VAR_DIR / "mail"


def test_an_email_is_one_info_line_and_a_file(settings, tmp_path, caplog, capsys):
    settings.EMAIL_BACKEND = "core.mail.DevEmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    with caplog.at_level(logging.DEBUG):
        sent = send_mail("Your sign-in code", "Your code is 123456.", "cockpit@localhost",
                         ["ada@acme.test", "grace@acme.test"])
    assert sent == 1
    [record] = caplog.records
    assert (record.name, record.levelno) == ("core.mail", logging.INFO)
    assert record.getMessage().startswith("Sent an e-mail (Your sign-in code) to 2 recipient(s); saved in ")
    assert "123456" not in caplog.text  # the content stays in the file
    [saved] = (tmp_path / "mail").iterdir()
    assert saved.suffix == ".eml" and "Your code is 123456." in saved.read_text()
    assert "Subject: Your sign-in code" in saved.read_text()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # a Celery worker logs what it prints as WARNINGs


def test_the_file_backend_skips_messages_without_recipients_and_reports_failures(tmp_path):
    backend = DevEmailBackend(file_path=tmp_path / "mail")
    assert backend.send_messages([EmailMessage("Hi", "Body", "cockpit@localhost", [])]) == 0
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    message = EmailMessage("Hi", "Body", "cockpit@localhost", ["ada@acme.test"])
    with pytest.raises(OSError):
        DevEmailBackend(file_path=blocked).send_messages([message])
    assert DevEmailBackend(file_path=blocked, fail_silently=True).send_messages([message]) == 0
    assert not mail.outbox
