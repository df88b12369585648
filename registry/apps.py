from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model Registry"

    def ready(self) -> None:
        # Registers the roles it caches on users, so artifacts.permissions.forget_roles drops them too.
        from registry import permissions  # noqa: F401
