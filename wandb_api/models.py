from django.conf import settings
from django.db import models


class WrongKeys(models.Model):
    """Wrong API keys sent from one client address in its current window (see wandb_api/throttle.py)."""

    address = models.CharField(max_length=64, unique=True)
    count = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "wrong API keys from an address"
        verbose_name_plural = "wrong API keys by address"

    def __str__(self) -> str:
        return f"{self.address}: {self.count}"


class DefaultEntity(models.Model):
    """The entity the SDK uses for a user when none is given: W&B's user setting `defaultEntity`, which the SDK
    sets with `updateUser` (lookups.default_entity reads it; without one, the user's own or first entity)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey("artifacts.Entity", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name_plural = "default entities"

    def __str__(self) -> str:
        return f"{self.user}: {self.entity}"
