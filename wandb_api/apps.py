from django.apps import AppConfig


class WandbApiConfig(AppConfig):
    name = "wandb_api"
    verbose_name = "W&B-compatible API"
