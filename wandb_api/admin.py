from django.contrib import admin

from artifacts.admin import ModelAdmin
from wandb_api.models import WrongKeys


@admin.register(WrongKeys)
class WrongKeysAdmin(ModelAdmin):
    """Deleting a row lifts the API-key throttle for that address at once."""

    list_display = ["address", "count", "window_start"]
    search_fields = ["address"]
    readonly_fields = ["address", "count", "window_start"]

    def has_add_permission(self, request) -> bool:
        return False
