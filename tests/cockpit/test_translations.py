"""The French catalogue is complete and compiled: every message the code marks has a French translation.

``makemessages -l fr`` runs over a copy of the sources into a temporary copy of the committed catalogue (the
real one is never touched); any message missing from the committed ``.po``, left untranslated or flagged fuzzy
fails the test, listed. The committed ``.mo`` must hold exactly what the committed ``.po`` compiles to, so a clean
clone runs in French without gettext tools. Skipped, saying why, where gettext (``xgettext``, ``msgfmt``) is not
installed (CI installs it: ``.ci/run``)."""

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES"
# What ``makemessages`` reads (its default extensions) and the trees it must skip, as in the README's command.
SOURCE_SUFFIXES = {".py", ".html", ".txt"}
SKIPPED_DIRS = {".venv", "var", "tests", "benchmarks", "locale", ".git", "__pycache__", "node_modules", "docs"}

needs_gettext = pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgfmt")),
    reason="GNU gettext (xgettext, msgfmt) is not installed: apt-get install gettext (CI does, in .ci/run)",
)


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    """A quoted ``.po`` string's text: its C escapes resolved, the rest (UTF-8 already) as it is."""
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), text.strip()[1:-1])


def read_po(path: Path) -> list[dict]:
    """The entries of a ``.po`` file (the header left out): ``msgid``, ``plural``, ``msgstr`` (list), ``fuzzy``.
    Obsolete entries (``#~``) are not entries."""
    entries, entry, field = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None and entry["msgid"]:
                entries.append(entry)
            entry = None
            continue
        if line.startswith("#~"):
            continue
        if entry is None:
            entry = {"msgid": "", "plural": None, "msgstr": [], "fuzzy": False, "context": None}
        if line.startswith("#,"):
            entry["fuzzy"] = entry["fuzzy"] or "fuzzy" in line[2:].replace(" ", "").split(",")
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if field == "msgstr":
                entry["msgstr"][-1] += _unquote(line)
            else:
                entry[field] += _unquote(line)
        else:
            keyword, _, value = line.partition(" ")
            if keyword == "msgctxt":
                field, entry["context"] = "context", _unquote(value)
            elif keyword == "msgid":
                field, entry["msgid"] = "msgid", _unquote(value)
            elif keyword == "msgid_plural":
                field, entry["plural"] = "plural", _unquote(value)
            elif keyword.startswith("msgstr"):
                field = "msgstr"
                entry["msgstr"].append(_unquote(value))
    return entries


def read_mo(path: Path) -> dict[str, str]:
    """A compiled catalogue as {original: translation} (GNU ``.mo`` format), header included."""
    data = path.read_bytes()
    order = "<" if data[:4] == b"\xde\x12\x04\x95" else ">"
    _, count, originals, translations = struct.unpack(f"{order}4I", data[4:20])

    def string(table: int, index: int) -> str:
        length, offset = struct.unpack(f"{order}2I", data[table + 8 * index:table + 8 * index + 8])
        return data[offset:offset + length].decode("utf-8")

    return {string(originals, i): string(translations, i) for i in range(count)}


def _key(entry: dict) -> tuple:
    return entry["context"], entry["msgid"], entry["plural"]


def _copy_sources(destination: Path) -> None:
    base = Path(settings.BASE_DIR)
    for path in base.rglob("*"):
        relative = path.relative_to(base)
        if SKIPPED_DIRS.intersection(relative.parts[:-1]) or relative.parts[0] in SKIPPED_DIRS:
            continue
        if path.is_file() and path.suffix in SOURCE_SUFFIXES and not relative.parts[0].endswith(".egg-info"):
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


@pytest.fixture(scope="module")
def fresh_catalogue(tmp_path_factory):
    """The committed catalogue after ``makemessages -l fr`` over today's sources, in a temporary directory."""
    root = tmp_path_factory.mktemp("makemessages")
    _copy_sources(root / "src")
    locale = root / "locale"
    (locale / "fr" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copyfile(CATALOGUE / "django.po", locale / "fr" / "LC_MESSAGES" / "django.po")
    with pytest.MonkeyPatch.context() as patch, override_settings(LOCALE_PATHS=[str(locale)]):
        patch.chdir(root / "src")  # makemessages reads the current directory, and writes into LOCALE_PATHS[0]
        call_command("makemessages", locale=["fr"], verbosity=0)
    return read_po(locale / "fr" / "LC_MESSAGES" / "django.po")


@needs_gettext
def test_every_marked_message_is_in_the_catalogue(fresh_catalogue):
    committed = {_key(e) for e in read_po(CATALOGUE / "django.po")}
    missing = sorted(e["msgid"] for e in fresh_catalogue if _key(e) not in committed)
    assert not missing, (
        f"{len(missing)} message(s) are not in locale/fr/LC_MESSAGES/django.po: run `python manage.py makemessages "
        "-l fr --ignore=.venv --ignore=benchmarks --ignore=tests --ignore=var`, translate them, then "
        "compilemessages:\n" + "\n".join(f"  {m!r}" for m in missing)
    )


@needs_gettext
def test_every_message_has_a_french_translation(fresh_catalogue):
    untranslated = sorted(e["msgid"] for e in fresh_catalogue if not all(e["msgstr"]) or not e["msgstr"])
    fuzzy = sorted(e["msgid"] for e in fresh_catalogue if e["fuzzy"])
    assert not untranslated and not fuzzy, (
        f"{len(untranslated)} message(s) without a French translation, {len(fuzzy)} fuzzy (check and unflag them) "
        "in locale/fr/LC_MESSAGES/django.po:\n"
        + "\n".join([f"  untranslated: {m!r}" for m in untranslated] + [f"  fuzzy: {m!r}" for m in fuzzy])
    )


@needs_gettext
def test_the_committed_mo_is_the_compiled_po(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(CATALOGUE / "django.po")], check=True)
    fresh, committed = read_mo(compiled), read_mo(CATALOGUE / "django.mo")
    stale = sorted(k for k in fresh.keys() | committed.keys() if fresh.get(k) != committed.get(k))
    assert not stale, (
        f"locale/fr/LC_MESSAGES/django.mo is out of date ({len(stale)} message(s) differ): run "
        "`python manage.py compilemessages -l fr --ignore=.venv` and commit it:\n"
        + "\n".join(f"  {k.split(chr(0))[0]!r}" for k in stale[:50])
    )


def test_the_po_reader_sees_untranslated_fuzzy_and_plural_entries(tmp_path):
    """The checks above are only as good as this reader: a catalogue with each kind of entry."""
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Devices"\nmsgstr "Appareils"\n\n'
        '#, fuzzy, python-format\nmsgid "Edit %(name)s"\nmsgstr "Modifier %(name)s"\n\n'
        'msgid "Not yet"\nmsgstr ""\n\n'
        'msgid "%(counter)s host"\nmsgid_plural "%(counter)s hosts"\nmsgstr[0] "%(counter)s hôte"\nmsgstr[1] ""\n\n'
        'msgid "Long "\n"line"\nmsgstr ""\n"Longue "\n"ligne « x »"\n\n'
        '#~ msgid "Gone"\n#~ msgstr ""\n',
        encoding="utf-8",
    )
    entries = {e["msgid"]: e for e in read_po(po)}
    assert set(entries) == {"Devices", "Edit %(name)s", "Not yet", "%(counter)s host", "Long line"}
    assert entries["Edit %(name)s"]["fuzzy"] and not entries["Devices"]["fuzzy"]
    assert entries["Not yet"]["msgstr"] == [""]
    assert entries["%(counter)s host"]["plural"] == "%(counter)s hosts"
    assert entries["%(counter)s host"]["msgstr"] == ["%(counter)s hôte", ""]
    assert entries["Long line"]["msgstr"] == ["Longue ligne « x »"]
