"""The employees' enrollment page (DESIGN §1): ``/enroll/<enroll_slug>/``, no cockpit account.

The kwarg is not ``org_slug`` on purpose: ``OrganizationMiddleware`` resolves that one for cockpit
members only.
"""

from django.urls import path

from enrollment import public_views

urlpatterns = [
    path("", public_views.enroll_home, name="enroll_home"),
    path("sign-in/", public_views.enroll_signin, name="enroll_signin"),
    path("sign-in/code/", public_views.enroll_code, name="enroll_code"),
    path("sign-in/link/<str:link>/", public_views.enroll_link, name="enroll_link"),
    path("sign-out/", public_views.enroll_signout, name="enroll_signout"),
    path("installer/<str:token>/", public_views.enroll_installer, name="enroll_installer"),
]
