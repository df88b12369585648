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
