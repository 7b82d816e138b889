"""A demo organization with people, groups and ~200 devices in every status, built through the services
so that history and audit look as they would in real use."""

import os
import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from core.actors import Actor
from core.audit import Source
from core.models import Membership, Organization
from core.services import (
    employee_create,
    group_create,
    membership_add,
    organization_create,
    organization_update_settings,
)
from devices import services as devices
from devices.models import DESKTOP_PLATFORMS, Device, EnrollmentIssue, Platform, Usage
from mdm_sync import simulator
from mdm_sync.models import DailySnapshot
from mdm_sync.services import fleet_connection_save
from mdm_sync.snapshots import daily_snapshot_take
from mdm_sync.tasks import sync_organization_task

# What `make run` starts: the Fleet simulator on loopback with this fleet size, seed and token.
DEMO_FLEET_URL = os.environ.get("DEMO_FLEET_URL", "http://127.0.0.1:8081")
DEMO_FLEET_TOKEN = os.environ.get("DEMO_FLEET_TOKEN", "demo-fleet-token")
DEMO_FLEET_HOSTS = 60

DEMO_SLUG = "demo"
GROUPS = ["Engineering", "Sales", "Marketing", "Finance", "Support", "Kiosks"]
MODELS = {
    Platform.MACOS: ["MacBook Pro 14\" M3", "MacBook Air 13\" M2", "MacBook Pro 16\" M4"],
    Platform.WINDOWS: ["ThinkPad X1 Carbon Gen 11", "Dell Latitude 7440", "Surface Laptop 5"],
    Platform.LINUX: ["ThinkPad T14 (Ubuntu)", "Framework 13 (Fedora)"],
    Platform.IOS: ["iPhone 15", "iPhone 14"],
    Platform.IPADOS: ["iPad Air (5th gen)"],
    Platform.ANDROID: ["Pixel 8", "Galaxy S23"],
    Platform.CHROMEOS: ["Chromebook Plus"],
}
PLATFORM_WEIGHTS = [(Platform.MACOS, 45), (Platform.WINDOWS, 30), (Platform.LINUX, 8), (Platform.IOS, 8),
                    (Platform.IPADOS, 3), (Platform.ANDROID, 4), (Platform.CHROMEOS, 2)]


class Command(BaseCommand):
    help = "Create the demo organization (once) and print the cockpit login."

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=200)
        parser.add_argument("--employees", type=int, default=simulator.employee_count_for(DEMO_FLEET_HOSTS))

    def handle(self, *args, devices: int, employees: int, **options):
        email = os.environ.get("DEMO_ADMIN_EMAIL", "admin@demo.test")
        password = os.environ.get("DEMO_ADMIN_PASSWORD", "demo-cockpit")
        if Organization.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write("The demo organization already exists; nothing changed.")
        else:
            self._seed(email, password, devices, employees)
            self.stdout.write(self.style.SUCCESS(f"Seeded the demo organization with {devices} devices."))
        self.stdout.write(f"Cockpit login: {email} / {password}  (viewer: viewer@demo.test / {password})")

    @transaction.atomic
    def _seed(self, email, password, device_count, employee_count):
        rng = random.Random(42)
        system = Actor.system("seed_demo")
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username=email, defaults={"email": email, "first_name": "Demo",
                                                                         "last_name": "Admin"})
        admin.set_password(password)
        admin.save()
        viewer, _ = User.objects.get_or_create(username="viewer@demo.test", defaults={"email": "viewer@demo.test"})
        viewer.set_password(password)
        viewer.save()

        org = organization_create(slug=DEMO_SLUG, name="Demo Corp", actor=system)
        # Suggestion starts off in a new organization; the demo turns it on, as an admin would on the
        # suggestion settings page, so the first sync already shows suggestions to accept.
        org = organization_update_settings(organization=org, actor=system,
                                           assignment_suggestion_mode=Organization.SuggestionMode.SUGGEST)
        membership_add(organization=org, user=admin, role=Membership.Role.OWNER, actor=system)
        membership_add(organization=org, user=viewer, role=Membership.Role.VIEWER, actor=system)
        labs = organization_create(slug="demo-labs", name="Demo Labs", actor=system)
        membership_add(organization=labs, user=admin, role=Membership.Role.ADMIN, actor=system)

        actor = Actor.for_user(admin)
        # Saved without a probe: the simulator may start after the seeding (`make run` starts both).
        fleet_connection_save(organization=org, url=DEMO_FLEET_URL, token=DEMO_FLEET_TOKEN, actor=system, test=False)
        # The first sync should not wait for the next half hour: the worker runs it once everything is up.
        transaction.on_commit(
            lambda: sync_organization_task.apply_async((org.pk, "command", "seed_demo"), countdown=10)
        )
        groups = [group_create(organization=org, name=name, actor=actor) for name in GROUPS]
        people = []
        for index in range(employee_count):
            # The Fleet simulator's employees, so its installer and SSO e-mails name real people here.
            email = simulator.employee_email(index + 1, "demo.test")
            username = email.split("@")[0]
            people.append(employee_create(
                organization=org, actor=actor, email=email, full_name=simulator.employee_name(index + 1),
                username=username, domain_name="DEMO", external_id=f"HR-{1000 + index}",
                start_date=(timezone.now() - timedelta(days=rng.randint(30, 2000))).date(),
                groups=[rng.choice(groups[:5]).name],
            ))

        platforms, weights = zip(*PLATFORM_WEIGHTS, strict=True)
        now = timezone.now()
        for index in range(device_count):
            platform = rng.choices(platforms, weights)[0]
            owner = people[index % len(people)]
            shared = index % 40 == 39
            device = devices.device_create(
                organization=org, actor=actor, source=Source.MANUAL,
                serial_number=f"DEMO{rng.randrange(16**8):08X}{index:03d}",
                name=f"{owner.username}-{platform}" if not shared else f"kiosk-{index}",
                platform=platform, model=rng.choice(MODELS[platform]), os_version="",
                groups=[groups[5].name] if shared else [],
            )
            fate = index % 20
            if fate < 12 and not shared:  # in use, assigned
                device = devices.device_assign(device=device, employee=owner, actor=actor)
            elif fate < 14 or shared:  # in use, owner unknown
                device = devices.device_assign(device=device, employee=owner, actor=actor)
                device = devices.device_unassign(device=device, actor=actor, reason="Owner left the team")
            if shared:  # a kiosk never has an owner: it becomes shared once in use without one
                device = devices.device_update(device=device, actor=actor, usage=Usage.SHARED)
            elif fate == 19:
                device = devices.device_archive(device=device, actor=actor, reason="End of life")
            # MDM facts the Fleet sync will own later: activation, issues, last contact.
            facts = {"last_seen_at": now - timedelta(minutes=rng.randint(1, 600))}
            if fate not in (14, 15):  # 14-15 stay awaiting activation (in stock, never enrolled)
                facts["mdm_enrolled_at"] = now - timedelta(days=rng.randint(1, 400))
            if fate == 16:
                possible = [EnrollmentIssue.OFFLINE]  # what the health rules could find on this platform
                if platform in DESKTOP_PLATFORMS:
                    possible.append(EnrollmentIssue.AGENT_MISSING)
                if platform == Platform.MACOS:
                    possible.append(EnrollmentIssue.MDM_PROFILE_MISSING)
                facts["enrollment_issues"] = [rng.choice(possible)]
                facts["last_seen_at"] = now - timedelta(days=rng.randint(8, 40))
            if fate == 17:
                facts["unenrolled_at"] = now - timedelta(days=3)
            for key, value in facts.items():
                setattr(device, key, value)
            device.enrollment_status = devices.device_enrollment_status(device)
            Device.objects.filter(pk=device.pk).update(enrollment_status=device.enrollment_status, **facts)

        self._seed_features(org, actor, people, groups)
        self._seed_history(org, rng)

    def _seed_features(self, org, actor, people, groups):
        """A taste of each feature: the enroll secret, pre-assignments in each state, offboardings."""
        from assignment.services import pre_assignment_create
        from enrollment.services import enrollment_settings_save
        from offboarding.services import offboarding_schedule, offboarding_start

        enrollment_settings_save(organization=org, actor=actor, enroll_secret="demo-enroll-secret",
                                 fleet_url=DEMO_FLEET_URL)
        # Waiting: serials Fleet has not reported yet (awaiting activation).
        for index, person in enumerate(people[-3:]):
            pre_assignment_create(organization=org, actor=actor, serial_number=f"DEMOPRE{index:05d}", employee=person,
                                  groups=[groups[0].name], domain_name="DEMO")
        # Applied at once: an unassigned device in stock. Conflict: a device someone else already holds.
        in_stock = Device.objects.for_org(org).filter(assignee__isnull=True, availability_status="in_stock",
                                                      usage=Usage.INDIVIDUAL).order_by("pk").first()
        held = Device.objects.for_org(org).filter(assignee__isnull=False).order_by("pk").first()
        newcomer = people[-4]
        for device in (in_stock, held):
            if device is not None:
                pre_assignment_create(organization=org, actor=actor, serial_number=device.serial_number,
                                      employee=newcomer)
        # A leaver whose case is drafted, and one scheduled for next week.
        leaver, scheduled = people[1], people[2]
        offboarding_start(organization=org, employee=leaver, actor=actor)
        case = offboarding_start(organization=org, employee=scheduled, actor=actor)
        offboarding_schedule(offboarding=case, actor=actor,
                             effective_date=(timezone.now() + timedelta(days=7)).date())

    def _seed_history(self, org, rng, days=90):
        """DEMO DATA, NOT MEASURED: 89 days of made-up daily snapshots before today's real one, so the dashboard's
        trend charts have something to draw right after `make run`. A real installation backfills nothing: its
        charts start from the first nightly snapshot ("collecting since …")."""
        today = daily_snapshot_take(organization=org)  # the one real row: today's counts
        fake = []

        def wobble(value, growth, spread=0.06):
            return max(0, round(value * growth * rng.uniform(1 - spread, 1 + spread)))

        for back in range(1, days):
            growth = 1 - 0.3 * back / days  # the demo fleet grew by about a third over the quarter
            figures = {name: wobble(getattr(today, name), growth) for name in (
                "in_use_assigned", "in_use_to_assign", "awaiting_activation", "awaiting_user_assignment",
                "unenrolled", "not_seen_in_fleet")}
            figures["in_stock"] = wobble(today.in_stock, growth, 0.2)
            # More devices were partially enrolled back then: the fixes show as a falling line.
            figures["partially_enrolled"] = wobble(today.partially_enrolled + 3 * back // 30, growth, 0.3)
            figures["archived"] = max(0, today.archived - back // 10)
            figures["devices"] = figures["in_use_assigned"] + figures["in_stock"] + figures["in_use_to_assign"]
            figures["enrolled"] = max(0, figures["devices"] - figures["awaiting_activation"]
                                      - figures["awaiting_user_assignment"] - figures["partially_enrolled"]
                                      - figures["unenrolled"])
            failures = 1 if rng.random() < 0.06 else 0
            fake.append(DailySnapshot(
                organization=org, day=today.day - timedelta(days=back), taken_at=today.taken_at - timedelta(days=back),
                sync_runs=48, sync_failures=failures, sync_seconds=round(rng.uniform(18, 34) * growth + 6, 1),
                sync_outcome="succeeded", **figures))
        DailySnapshot.objects.bulk_create(fake)
