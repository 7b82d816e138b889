"""The shared API suite (``tests/api_cases.py``) on the core's employees and groups; what is particular to them
(upsert by external id, uniqueness, filters, counts) is in ``test_api_core.py``."""

from tests.api_cases import APIViewTestCase
from tests.factories import EmployeeFactory, GroupFactory


class TestEmployeeAPI(APIViewTestCase):
    url_name = "api:employee"
    factory = EmployeeFactory
    create_data = {"email": "grace@acme.test", "full_name": "Grace Hopper", "external_id": "HR-7",
                   "start_date": "2024-03-01"}
    update_data = {"full_name": "Grace Brewster Hopper"}
    list_max_queries = 4


class TestGroupAPI(APIViewTestCase):
    url_name = "api:group"
    factory = GroupFactory
    create_data = {"name": "Sales", "description": "Sales team"}
    update_data = {"description": "Everyone who sells"}
    list_max_queries = 3
