from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "koppel.sync"
    label = "sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import pipeline, refunds  # noqa: F401  (they register the handlers of their record kinds)
