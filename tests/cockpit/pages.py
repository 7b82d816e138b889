"""The cockpit's pages through Django's test client: their URLs, what a page lists, and a fleet of every state.

Shared by the page tests of the shell (tests/cockpit), the core (tests/core) and the devices (tests/devices).
"""

import csv
import io
from urllib.parse import urlencode

from django.urls import reverse

from devices import services as device_services
from devices.models import Device
from tests.factories import DeviceFactory, EmployeeFactory, GroupFactory


def url(name, org, *args, **query):
    path = reverse(name, args=[org.slug, *args])
    if query:
        path += "?" + urlencode(query)
    return path


def move_url(org, device, move):
    return reverse("device_move", args=[org.slug, device.pk, move])


def listed_pks(response) -> list[int]:
    return [obj.pk for obj in response.context["page"].object_list]


def export_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


def client_for(client, user):
    client.force_login(user)
    return client


def reload(device) -> Device:
    return Device.objects.get(pk=device.pk)


def fleet_of_every_state(org, employee, actor) -> dict:
    """One device of each (availability, assignment) combination, spread over platforms and groups."""
    engineering = GroupFactory(organization=org, name="Engineering")
    sales = GroupFactory(organization=org, name="Sales")
    grace = EmployeeFactory(organization=org, full_name="Grace Hopper", email="grace@acme.test")

    assigned = DeviceFactory(organization=org, name="ada-mbp", serial_number="C02ADA001", platform="macos")
    assigned.groups.add(engineering)
    assigned = device_services.device_assign(device=assigned, employee=employee, actor=actor)

    stock = DeviceFactory(organization=org, name="stock-thinkpad", serial_number="PF0STOCK1", platform="windows")
    stock.groups.add(sales)

    loose = DeviceFactory(organization=org, name="lab-linux", serial_number="LNX000001", platform="linux")
    loose = device_services.device_assign(device=loose, employee=grace, actor=actor)
    loose = device_services.device_unassign(device=loose, actor=actor)

    archived = DeviceFactory(organization=org, name="old-iphone", serial_number="IPH000001", platform="ios")
    archived = device_services.device_archive(device=archived, actor=actor)

    broken = DeviceFactory(organization=org, name="grace-pixel", serial_number="PIX000001", platform="android")
    broken = device_services.device_assign(device=broken, employee=grace, actor=actor)
    Device.objects.filter(pk=broken.pk).update(
        enrollment_issues=["agent_missing", "offline"], enrollment_status="partially_enrolled"
    )
    return {
        "assigned": assigned, "stock": stock, "loose": loose, "archived": archived, "broken": reload(broken),
        "engineering": engineering, "sales": sales, "grace": grace,
    }
