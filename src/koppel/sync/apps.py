from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "koppel.sync"
    label = "sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save
        from django_tasks_db.models import DBTaskResult

        from . import pipeline, refunds  # noqa: F401  (they register the handlers of their record kinds)
        from .wakeup import task_saved

        post_save.connect(task_saved, sender=DBTaskResult, dispatch_uid="koppel-wake-workers")
