import os

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from assignment import services
from assignment.csv_import import ACTION_LABELS, row_message
from assignment.models import CsvImport
from core.actors import Actor
from core.audit import Source
from core.errors import DomainError
from core.models import Organization


class Command(BaseCommand):
    help = ("Import a pre-assignment CSV (DESIGN §6) into an organization: prints each row's result; exits 1 "
            "when a row is in error (nothing is imported unless --skip-errors).")

    def add_arguments(self, parser):
        parser.add_argument("org_slug")
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Preview only: change nothing")
        parser.add_argument("--skip-errors", action="store_true", help="Import the good rows, skip those in error")
        parser.add_argument("--kind", choices=CsvImport.Kind.values, default=CsvImport.Kind.ASSIGN,
                            help="assign (default), or a CSV of serial numbers to unassign / return to stock")

    def handle(self, *args, org_slug, file, dry_run, skip_errors, kind, **options):
        organization = Organization.objects.filter(slug=org_slug).first()
        if organization is None:
            raise CommandError(f"No organization with the slug “{org_slug}”.")
        try:
            size = os.path.getsize(file)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        if size > services.csv_max_bytes():  # answered before reading the file
            raise CommandError(services.size_message(size))
        actor = Actor.system("import_assignments")
        try:
            with open(file, "rb") as handle:
                record = services.csv_import_start(organization=organization, actor=actor, data=handle.read(),
                                                   filename=os.path.basename(file), kind=kind, source=Source.CSV_IMPORT)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if record.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(record.ignored_columns)}")
        errors = warned = 0
        for row in record.rows:
            if row["action"] == "error":
                errors += 1
                self.stdout.write(f"{row_message(row)} [error]")
            else:
                notes = f" — {' '.join(row['notes'])}" if row["notes"] else ""
                self.stdout.write(f"line {row['line']}: {row['serial']} {ACTION_LABELS[row['action']].lower()}"
                                  f" [{row['action']}]{notes}")
                for warning in row.get("warnings") or ():
                    warned += 1
                    self.stdout.write(self.style.WARNING(
                        _("line %(line)s: %(detail)s [warning: imported all the same]")
                        % {"line": row["line"], "detail": warning["detail"]}))
        counts = ", ".join(f"{v} {k}" for k, v in sorted(record.counts.items()) if v)
        self.stdout.write(f"{record.row_count} row(s): {counts}")
        if warned:
            self.stdout.write(self.style.WARNING(
                _("%(count)s warning(s): employees whose offboarding is under way; their rows are imported.")
                % {"count": warned}))
        if dry_run:
            services.csv_import_discard(csv_import=record, actor=actor)
            if errors:
                raise CommandError(f"{errors} row(s) in error (dry run: nothing was changed).")
            self.stdout.write("Dry run: nothing was changed.")
            return
        if errors and not skip_errors:
            services.csv_import_discard(csv_import=record, actor=actor)
            raise CommandError(f"{errors} row(s) in error: nothing was imported (--skip-errors imports the others).")
        try:
            result = services.csv_import_commit(csv_import=record, actor=actor, skip_errors=skip_errors)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Imported: {services.import_summary(result)}.")
        if errors:
            raise CommandError(f"{errors} row(s) in error were skipped.")
