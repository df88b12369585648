"""Wrong API keys per client address, counted in the database so that every worker process sees one count.

A fixed window per address: it opens with the first wrong key and lasts API_KEY_COOLOFF_SECONDS. The first
API_KEY_FAILURE_LIMIT wrong keys in it are answered 401 as usual, later ones 429 until the window ends. Only
wrong keys are counted and only they read the count: a right key never touches this table.
"""

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from wandb_api.models import WrongKeys


@transaction.atomic
def wrong_key_record(*, address: str) -> int:
    """Count one wrong key from `address`; the seconds it must wait before the next try, 0 if under the limit."""
    now = timezone.now()
    window = timedelta(seconds=settings.API_KEY_COOLOFF_SECONDS)
    row, _ = WrongKeys.objects.select_for_update().get_or_create(address=address, defaults={"window_start": now})
    if row.window_start <= now - window:
        row.count, row.window_start = 0, now
    row.count += 1
    row.save(update_fields=["count", "window_start"])
    # Closed windows of other addresses are dropped here, on the (rare) wrong-key path, instead of by a job.
    WrongKeys.objects.filter(window_start__lte=now - window).exclude(pk=row.pk).delete()
    if row.count <= settings.API_KEY_FAILURE_LIMIT:
        return 0
    return max(1, math.ceil((row.window_start + window - now).total_seconds()))
