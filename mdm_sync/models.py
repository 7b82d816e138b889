from django.db import models

from cockpit.crypto import decrypt, encrypt
from cockpit.tenancy import TenantModel


class FleetConnection(TenantModel):
    """Where an organization's Fleet server is, and the API token to reach it (encrypted, never shown)."""

    url = models.URLField(max_length=500)
    token_encrypted = models.TextField(editable=False)
    verify_tls = models.BooleanField(default=True, help_text="Check Fleet's TLS certificate (keep on)")
    enabled = models.BooleanField(default=True, help_text="Off: the 30-minute sync skips this organization")
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_message = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="fleetconnection_one_per_org")]

    def __str__(self):
        return self.url

    def __repr__(self):  # the default repr is fine, but make sure no secret ever lands in a log line
        return f"<FleetConnection {self.organization_id} {self.url}>"

    @property
    def token(self) -> str:
        return decrypt(self.token_encrypted)

    @token.setter
    def token(self, value: str) -> None:
        self.token_encrypted = encrypt(value)
