"""The device-list benchmark's organizations, employees and devices (``bench_device_list.py`` seeds them with COPY)."""

import json
import random
import uuid
from datetime import datetime, timedelta

BENCH_ORG = "bench"
OTHER_ORG = "bench-other"  # a second tenant, a tenth of the size, so the organization filter means something
OWNER_USERNAME = "bench-owner@bench.example"
TOKEN_NAME = "bench"
GROUP_NAMES = ["Engineering", "Sales", "Support", "Finance", "Marketing", "People", "IT", "Kiosks"]
FILTER_QUERY = "availability_status=in_use&platform=windows"

# --- the data ---------------------------------------------------------------------------------

PLATFORMS = [  # (platform, weight, name prefix, models, os versions)
    (
        "windows",
        40,
        "WIN",
        ["Latitude 7440", "ThinkPad T14", "EliteBook 840", "Surface Laptop 5"],
        ["10.0.19045", "10.0.22631"],
    ),
    (
        "macos",
        33,
        "MAC",
        ["MacBook Pro 14", "MacBook Air 13", "MacBook Pro 16", "Mac mini"],
        ["14.6.1", "15.1", "15.2"],
    ),
    (
        "linux",
        9,
        "LNX",
        ["ThinkPad X1 Carbon", "XPS 13", "Framework 13"],
        ["Ubuntu 22.04", "Ubuntu 24.04", "Fedora 40"],
    ),
    ("ios", 7, "IPH", ["iPhone 14", "iPhone 15", "iPhone SE"], ["17.6", "18.1"]),
    ("ipados", 4, "IPD", ["iPad 10th gen", "iPad Air"], ["17.6", "18.1"]),
    ("android", 4, "AND", ["Pixel 8", "Galaxy S23"], ["14", "15"]),
    ("chromeos", 2, "CRB", ["Chromebook Plus"], ["126", "128"]),
    ("other", 1, "DEV", [""], [""]),
]
# The only (availability, assignment, has assignee) triples the check constraint accepts, with weights.
STATUS_PAIRS = [
    (("in_use", "assigned", True), 62),
    (("in_stock", "to_assign", False), 14),
    (("in_use", "to_assign", False), 10),
    (("archived", None, False), 14),
]
ENROLLMENT_BY_AVAILABILITY = {
    "in_use": [
        ("enrolled", 85),
        ("partially_enrolled", 7),
        ("awaiting_user_assignment", 4),
        ("awaiting_activation", 4),
    ],
    "in_stock": [("awaiting_activation", 50), ("enrolled", 30), ("unenrolled", 20)],
    "archived": [("unenrolled", 80), ("awaiting_activation", 20)],
}
FIRST_NAMES = ["Alice", "Bruno", "Chloe", "David", "Emma", "Farid", "Gina", "Hugo", "Ines", "Jules"]
LAST_NAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy"]

DEVICE_COLUMNS = (
    "organization_id",
    "created_at",
    "updated_at",
    "serial_number",
    "name",
    "platform",
    "model",
    "os_version",
    "ownership",
    "usage",
    "notes",
    "availability_status",
    "assignment_status",
    "assignee_id",
    "assigned_at",
    "archived_at",
    "enrollment_status",
    "enrollment_issues",
    "mdm_enrolled_at",
    "unenrolled_at",
    "fleet_host_id",
    "fleet_uuid",
    "last_seen_at",
    "version",
)
EMPLOYEE_COLUMNS = (
    "organization_id",
    "created_at",
    "updated_at",
    "email",
    "full_name",
    "username",
    "domain_name",
    "external_id",
    "status",
    "start_date",
    "end_date",
    "offboarded_at",
)


def _weighted(rng: random.Random, choices):
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices], k=1)[0]


def employee_rows(org_id: int, count: int, rng: random.Random, now: datetime):
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = now - timedelta(days=rng.randint(30, 2000))
        offboarded = rng.random() < 0.05
        yield (
            org_id,
            created,
            created,
            f"{first.lower()}.{last.lower()}.{i}@org{org_id}.bench.example",
            f"{first} {last}",
            f"{first[0].lower()}{last.lower()}{i}",
            "CORP",
            f"HR{org_id}-{i:06d}",
            "offboarded" if offboarded else "active",
            created.date(),
            now.date() if offboarded else None,
            now if offboarded else None,
        )


def device_rows(org_id: int, count: int, employee_ids: list[int], rng: random.Random, now: datetime):
    platform_choices = [(p, p[1]) for p in PLATFORMS]
    for i in range(count):
        platform, _weight, prefix, models, versions = _weighted(rng, platform_choices)
        (availability, assignment, has_assignee) = _weighted(rng, STATUS_PAIRS)
        enrollment = _weighted(rng, ENROLLMENT_BY_AVAILABILITY[availability])
        created = now - timedelta(days=rng.uniform(1, 1100))
        issues = []
        if enrollment == "partially_enrolled":
            issues = [rng.choice(["enrollment_incomplete", "agent_missing", "mdm_profile_missing"])]
        elif enrollment == "enrolled" and rng.random() < 0.12:
            issues = [rng.choice(["offline", "agent_inactive"])]
        fleet_known = enrollment in {"enrolled", "partially_enrolled", "unenrolled"}
        yield (
            org_id,
            created,
            created + timedelta(days=rng.uniform(0, 30)),
            f"SN{org_id:03d}{i:09d}",
            f"{prefix}-{i:06d}",
            platform,
            rng.choice(models),
            rng.choice(versions),
            "personal" if rng.random() < 0.03 else "corporate",
            "shared" if not has_assignee and rng.random() < 0.2 else "individual",
            "",
            availability,
            assignment,
            rng.choice(employee_ids) if has_assignee else None,
            created + timedelta(days=rng.uniform(0, 5)) if has_assignee else None,
            now - timedelta(days=rng.uniform(0, 300)) if availability == "archived" else None,
            enrollment,
            json.dumps(issues),
            created + timedelta(hours=rng.uniform(1, 48)) if fleet_known else None,
            now - timedelta(days=rng.uniform(0, 300)) if enrollment == "unenrolled" else None,
            i + 1 if fleet_known else None,
            str(uuid.UUID(int=rng.getrandbits(128), version=4)) if fleet_known else "",
            now - timedelta(minutes=rng.uniform(1, 60 * 24 * 14))
            if enrollment in {"enrolled", "partially_enrolled"}
            else None,
            1,
        )
