"""An organization's OpenID Connect identity provider, for its cockpit users' single sign-on.

One ``SsoConfig`` per organization: where the provider is (its issuer; the rest comes from its discovery document),
the cockpit's client there (id, and secret stored encrypted like the Fleet API token, never shown), and the
organization's policy: ``enabled``, ``sso_required`` (members cannot sign in with a password, owners excepted as
the break-glass path), and just-in-time creation of the members the provider vouches for (``jit_enabled`` with
``jit_role``, never owner).
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.crypto import decrypt, encrypt
from core.models import Membership, Organization
from core.tenancy import TenantModel

# The roles a just-in-time member may get: owner never (an owner is named by another owner).
JIT_ROLES = [(role.value, role.label) for role in Membership.Role if role != Membership.Role.OWNER]


class SsoConfig(TenantModel):
    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="sso_config")
    issuer = models.URLField(
        _("issuer URL"), max_length=500,
        help_text=_("The identity provider's issuer, e.g. https://acme.okta.com (its discovery document is the "
                    "issuer followed by /.well-known/openid-configuration)"))
    client_id = models.CharField(_("client ID"), max_length=255)
    client_secret_encrypted = models.TextField(editable=False, blank=True)
    enabled = models.BooleanField(_("single sign-on enabled"), default=False)
    sso_required = models.BooleanField(
        _("SSO required"), default=False,
        help_text=_("Members cannot sign in with a password; owners still can (break-glass)"))
    jit_enabled = models.BooleanField(
        _("create members on first sign-in"), default=False,
        help_text=_("A person the identity provider signs in who is not a member yet becomes one"))
    jit_role = models.CharField(_("role of members created on sign-in"), max_length=12, choices=JIT_ROLES,
                                default=Membership.Role.VIEWER)

    class Meta:
        verbose_name = "single sign-on configuration"
        constraints = [
            models.CheckConstraint(condition=~Q(jit_role=Membership.Role.OWNER), name="ssoconfig_jit_role_not_owner"),
        ]

    def __str__(self):
        return f"Single sign-on of {self.organization}"

    def __repr__(self):  # never a secret in a log line
        return f"<SsoConfig {self.organization_id} {self.issuer}>"

    @property
    def client_secret(self) -> str:
        return decrypt(self.client_secret_encrypted) if self.client_secret_encrypted else ""

    @client_secret.setter
    def client_secret(self, value: str) -> None:
        self.client_secret_encrypted = encrypt(value) if value else ""

    @property
    def has_secret(self) -> bool:
        return bool(self.client_secret_encrypted)
