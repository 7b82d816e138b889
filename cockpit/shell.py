"""The shell's own small pages: ``/favicon.ico`` and the top bar's global search."""

from functools import lru_cache

from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from devices.search import fleet_search

FAVICON = "cockpit/favicon.ico"


@lru_cache(maxsize=1)
def _favicon_bytes() -> bytes | None:
    path = finders.find(FAVICON)
    if not path:
        return None
    with open(path, "rb") as handle:
        return handle.read()


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request):
    """Browsers ask for ``/favicon.ico`` on their own (pages without a ``<link rel="icon">``, the API's JSON, feed
    readers): answered here, so that no page costs a 404 in the log."""
    data = _favicon_bytes()
    if data is None:
        raise Http404("No favicon")
    return HttpResponse(data, content_type="image/x-icon")


@require_safe
def search(request, org_slug):
    """Devices and employees matching ``q``; a serial number typed whole opens its device."""
    results = fleet_search(organization=request.organization, query=request.GET.get("q", ""))
    if results.exact_device is not None:
        return redirect("device_detail", org_slug=org_slug, pk=results.exact_device.pk)
    return render(request, "cockpit/search.html", {"results": results})
