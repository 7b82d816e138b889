from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class CockpitPagination(PageNumberPagination):
    """``count``, ``next``, ``previous``, ``results``; ``page_size`` from 1 to 500 (50 when not given). A page size
    that is not a whole number in that range is refused with a 400 naming it, never silently changed; so is a
    ``page`` that is not a whole number from 1 (or ``last``). A page past the last one is a 404, as DRF answers."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                gettext("Give a whole number from 1 to %(max)s (got “%(raw)s”).") % {
                    "max": self.max_page_size, "raw": raw[:20]}]})
        return int(text)

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            text = raw.strip()
            if not (text.isascii() and text.isdigit()) or int(text) < 1:
                raise ValidationError({self.page_query_param: [
                    gettext("Give a whole number from 1 (got “%(raw)s”).") % {"raw": raw[:20]}]})
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} (default {self.page_size})."
            elif parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = "The page, from 1 (a page past the last one is a 404)."
        return parameters
