"""core.web.org_object_or_404: the request's organization's object, or 404, from a model or a queryset."""

import pytest
from django.http import Http404
from django.test import RequestFactory

from core.web import org_object_or_404
from devices.models import Device
from tests.factories import DeviceFactory


@pytest.mark.parametrize("source", [Device, Device.objects.filter(platform="macos")])
def test_the_organizations_object_or_404(org, other_org, source):
    ours, theirs = DeviceFactory(organization=org), DeviceFactory(organization=other_org)
    request = RequestFactory().get("/")
    request.organization = org
    assert org_object_or_404(request, source, pk=ours.pk) == ours
    with pytest.raises(Http404):
        org_object_or_404(request, source, pk=theirs.pk)
