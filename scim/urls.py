"""SCIM 2.0 endpoints (mounted at /scim/v2/): one view serves every SCIM path (``scim.endpoint``)."""

from django.urls import path, re_path

from scim.endpoint import scim_endpoint

urlpatterns = [
    path("", scim_endpoint, name="scim_root"),
    re_path(r"^(?P<scim_path>.+)$", scim_endpoint, name="scim_endpoint"),
]
