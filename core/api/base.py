"""What every API viewset shares: the organization from the token, the actor, strict input."""

from rest_framework import serializers, viewsets

from core.actors import Actor
from core.api.schema import CockpitAutoSchema


class TenantViewSetMixin:
    """Resolves the organization once, from the token, before any handler runs.

    ``get_queryset`` implementations start from ``self.organization``; an object of another
    organization is therefore never found, and the answer is 404.
    """

    lookup_value_regex = r"\d+"
    schema = CockpitAutoSchema()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request.organization = request.auth.organization

    @property
    def organization(self):
        # None while drf-spectacular builds the schema without a request of a real token.
        return getattr(self.request, "organization", None)

    @property
    def actor(self) -> Actor:
        return Actor.for_token(self.request.auth)


class TenantModelViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class StrictSerializer(serializers.Serializer):
    """Refuses input keys it cannot write: a misspelt or read-only field is an error, not ignored."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            errors = {}
            for key in data:
                if key in writable:
                    continue
                errors[key] = ["This field is read-only."] if key in self.fields else ["Unknown field."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


class GroupNamesField(serializers.ListField):
    """Groups as a list of names, read and written; the service checks that each exists."""

    child = serializers.CharField(max_length=150)

    def to_representation(self, value):
        return [group.name for group in value.all()]


class EmployeeRefField(serializers.Field):
    """An employee as ``{id, email, name}`` on output."""

    def to_representation(self, employee):
        return {"id": employee.pk, "email": employee.email, "name": employee.display_name}
