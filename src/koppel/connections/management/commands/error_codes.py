"""Print the error codes with their meaning and remedy (Markdown), as the README shows them."""

from django.core.management.base import BaseCommand

from koppel.documents.codes import remedies_markdown


class Command(BaseCommand):
    help = __doc__.strip()
    requires_system_checks: list[str] = []

    def handle(self, *args, **options) -> None:
        self.stdout.write(remedies_markdown())
