"""SCIM search filters (RFC 7644 §3.4.2.2) as Django ``Q`` objects, over the attributes the cockpit can search.

scim2-models parses and validates the filter; this module only walks its tree (``FilterVisitor``) and maps each
attribute to a column: ``userName eq "ada@acme.test"``, ``externalId eq "HR-1"``, ``displayName co "Ada"``,
``active eq false``, ``emails[value eq "…"]``, ``meta.lastModified gt "…"``, and for groups ``displayName``,
``externalId``, ``members[value eq "12"]``. Any other attribute is refused with ``invalidFilter`` (``strict``), or
matches nothing (a search at the root, where RFC 7644 §3.4.2.1 has a type that lacks the attribute match nothing).
"""

from dataclasses import dataclass

from django.db.models import Q
from django.utils.dateparse import parse_datetime
from scim2_models import InvalidFilterException
from scim2_models.path import FilterVisitor
from scim2_models.path.expressions import CompareOperator, LogicalOperator

from scim.schema import GROUP_SCHEMA, USER_SCHEMA

NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class Column:
    lookup: str
    kind: str  # "id" | "text" (case-insensitive) | "exact" (case-exact text) | "datetime" | "active"


COMMON = {
    "id": Column("pk", "id"),
    "meta.created": Column("created_at", "datetime"),
    "meta.lastmodified": Column("updated_at", "datetime"),
}
USER_COLUMNS = COMMON | {
    "username": Column("email", "text"),
    "externalid": Column("external_id", "exact"),
    "displayname": Column("full_name", "text"),
    "emails.value": Column("email", "text"),
    "name.formatted": Column("full_name", "text"),
    "name.givenname": Column("scim__attributes__name__givenName", "text"),
    "name.familyname": Column("scim__attributes__name__familyName", "text"),
    "active": Column("", "active"),
}
GROUP_COLUMNS = COMMON | {
    "displayname": Column("name", "text"),
    "externalid": Column("scim__external_id", "exact"),
    "members.value": Column("employees__pk", "id"),
}
COLUMNS = {USER_SCHEMA.lower(): USER_COLUMNS, GROUP_SCHEMA.lower(): GROUP_COLUMNS}

TEXT_LOOKUPS = {
    CompareOperator.eq: "iexact", CompareOperator.co: "icontains", CompareOperator.sw: "istartswith",
    CompareOperator.ew: "iendswith", CompareOperator.gt: "gt", CompareOperator.ge: "gte",
    CompareOperator.lt: "lt", CompareOperator.le: "lte",
}
EXACT_LOOKUPS = TEXT_LOOKUPS | {
    CompareOperator.eq: "exact", CompareOperator.co: "contains", CompareOperator.sw: "startswith",
    CompareOperator.ew: "endswith",
}
ORDER_LOOKUPS = {CompareOperator.eq: "exact", CompareOperator.gt: "gt", CompareOperator.ge: "gte",
                 CompareOperator.lt: "lt", CompareOperator.le: "lte"}

# The active user: not offboarded and no open offboarding (the queryset annotates ``leaving``).
ACTIVE = Q(status="active", leaving=False)


class _ToQ(FilterVisitor[Q]):
    def __init__(self, schema: str, *, strict: bool, prefix: str = ""):
        self.schema = schema.lower()
        self.columns = COLUMNS[self.schema]
        self.strict = strict
        self.prefix = prefix

    def _column(self, attr_path) -> Column | None:
        if attr_path.uri and attr_path.uri.lower() != self.schema:
            return self._unknown(attr_path)
        name = attr_path.attr.lower() + (f".{attr_path.sub_attr.lower()}" if attr_path.sub_attr else "")
        column = self.columns.get(f"{self.prefix}.{name}" if self.prefix else name)
        return column if column is not None else self._unknown(attr_path)

    def _unknown(self, attr_path):
        if self.strict:
            where = f"{self.prefix}[…]" if self.prefix else ""
            raise InvalidFilterException(detail=f"Filtering on “{where}{attr_path}” is not supported.")
        return None

    def visit_logical_expr(self, node) -> Q:
        result = None
        for term in node.terms:
            q = self.visit(term)
            result = q if result is None else (result & q if node.op == LogicalOperator.and_ else result | q)
        return result if result is not None else Q()

    def visit_not(self, node) -> Q:
        return ~self.visit(node.expr)

    def visit_value_path(self, node) -> Q:
        inner = _ToQ(self.schema, strict=self.strict, prefix=node.attr_path.attr.lower())
        return inner.visit(node.val_filter)

    def visit_present(self, node) -> Q:
        column = self._column(node.attr_path)
        if column is None:
            return NOTHING
        if column.kind in ("active", "id", "datetime"):
            return Q()  # always has a value
        return Q(**{f"{column.lookup}__isnull": False}) & ~Q(**{column.lookup: ""})

    def visit_comparison(self, node) -> Q:
        column = self._column(node.attr_path)
        if column is None:
            return NOTHING
        op, value = node.op, node.value
        if op == CompareOperator.ne:
            return ~self._compare(column, CompareOperator.eq, value, node)
        return self._compare(column, op, value, node)

    def _compare(self, column: Column, op, value, node) -> Q:
        if value is None:  # "attr eq null": not present
            return ~self.visit_present(node)
        if column.kind == "active":
            wanted = value if isinstance(value, bool) else str(value).strip().lower() == "true"
            if op != CompareOperator.eq:
                raise InvalidFilterException(detail="active can only be compared with eq or ne.")
            return ACTIVE if wanted else ~ACTIVE
        if column.kind == "id":
            text = str(value).strip()
            if op != CompareOperator.eq:
                raise InvalidFilterException(detail=f"{node.attr_path} can only be compared with eq or ne.")
            if not (text.isascii() and text.isdigit()):
                return NOTHING
            return Q(**{column.lookup: int(text)})
        if column.kind == "datetime":
            moment = parse_datetime(str(value))
            if moment is None or op not in ORDER_LOOKUPS:
                raise InvalidFilterException(detail=f"{node.attr_path} takes a date and time (eq, gt, ge, lt, le).")
            return Q(**{f"{column.lookup}__{ORDER_LOOKUPS[op]}": moment})
        lookups = TEXT_LOOKUPS if column.kind == "text" else EXACT_LOOKUPS
        return Q(**{f"{column.lookup}__{lookups[op]}": str(value)})


def filter_q(scim_filter, *, schema: str, strict: bool = True) -> Q:
    """The ``Q`` of a parsed filter (``SearchRequest.filter``) for the resource type of ``schema``; None: all."""
    if scim_filter is None:
        return Q()
    return _ToQ(schema, strict=strict).visit(scim_filter.ast)
