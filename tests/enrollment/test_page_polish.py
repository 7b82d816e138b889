"""Regressions found by walking the enrollment pages in a browser (QA pass)."""

import pytest
from django.test import TestCase
from django.urls import reverse

from tests.factories import EmployeeFactory


@pytest.fixture
def ada(org):
    return EmployeeFactory(organization=org, email="ada@acme.test", full_name="Ada Lovelace")


def test_a_wrong_code_says_so_once(client, org, ada):
    """The code form printed its non-field errors twice (its own block and ``as_div``)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("enroll_signin", kwargs={"enroll_slug": org.slug}), {"email": ada.email})
    response = client.post(reverse("enroll_code", kwargs={"enroll_slug": org.slug}),
                           {"email": ada.email, "code": "000000"})
    assert response.status_code == 400
    message = response.context["form"].non_field_errors()[0]
    assert response.content.decode().count(message) == 1
