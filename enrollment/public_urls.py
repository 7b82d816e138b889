"""The employees' enrollment page (DESIGN §1): ``/enroll/<enroll_slug>/``, no cockpit account.

The kwarg is not ``org_slug`` on purpose: ``OrganizationMiddleware`` resolves that one for cockpit
members only.
"""

urlpatterns = []
