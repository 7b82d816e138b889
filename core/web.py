"""Helpers every cockpit view uses: role checks, the organization's object or 404, pagination, the acting user,
query-string links."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.translation import gettext

from core.actors import Actor
from core.errors import DomainError

PAGE_SIZE = 50


def require_role(capability: str):
    """Refuse (403) unless the member's role has ``capability`` (a ``Membership`` property)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not getattr(request.membership, capability, False):
                raise PermissionDenied(gettext("Your role does not allow this."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def org_object_or_404(request, queryset, **lookup):
    """The request's organization's object, or 404: ``queryset`` is a tenant model or queryset (``for_org`` is
    applied here), ``lookup`` its filter (``pk=pk``). Another organization's object is simply not found."""
    if isinstance(queryset, type):  # a model class (its instances may have a field called "model")
        queryset = queryset.objects.all()
    found = queryset.for_org(request.organization).filter(**lookup).first()
    if found is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name}")
    return found


def actor_for(request) -> Actor:
    return Actor.for_user(request.user)


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def call_service(form, call):
    """Run ``call(cleaned_data)``; a domain error becomes an error on the form field it names.

    Returns the service's result, or None when the form now carries the error (kept as
    ``form.domain_error``, whose ``status`` a view answers with: 409 for a conflict).
    """
    try:
        return call(dict(form.cleaned_data))
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        form.domain_error = exc
        return None


def run_action(request, call, success):
    """Run a cockpit button's service ``call()``: its domain error becomes an error message, its result the
    success message (``success`` is a sentence, or a function of the result). Returns the result, or None.
    """
    from django.contrib import messages

    try:
        result = call()
    except DomainError as exc:
        messages.error(request, exc.message)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return result


def filterset_for(filterset_class, request, queryset):
    """Bind the list's FilterSet to the query string; invalid filters show their errors and no rows."""
    filterset = filterset_class(request.GET or None, queryset=queryset, request=request)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    if filterset.is_bound and not filterset.is_valid():
        rows = queryset.none()
    return filterset, rows
