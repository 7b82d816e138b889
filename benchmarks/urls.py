"""The cockpit's URLs plus ``/bench/trivial``, the baseline every measured page is compared with."""

from django.http import HttpResponse
from django.urls import path

from cockpit.urls import handler404  # noqa: F401
from cockpit.urls import urlpatterns as cockpit_urlpatterns


def trivial(request):
    """No database, no template: what the middleware stack and gunicorn cost on their own."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/trivial", trivial, name="bench_trivial"), *cockpit_urlpatterns]
