from django.utils.translation import gettext
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# Query parameters that are not filters but every list understands.
PAGINATION_PARAMS = {"page", "page_size", "format"}


class StrictFilterBackend(DjangoFilterBackend):
    """The viewset's FilterSet, refusing parameters it does not know.

    A misspelt filter (``?platfrom=macos``) silently returning the whole fleet is how an HR
    script deletes the wrong devices; answering 400 with the name is kinder.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        unknown = sorted(set(request.query_params) - known - PAGINATION_PARAMS)
        if unknown:
            raise ValidationError({name: [gettext("Unknown query parameter.")] for name in unknown})
        return super().filter_queryset(request, queryset, view)
