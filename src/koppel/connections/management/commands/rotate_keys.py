"""Re-encrypt every stored credential with the newest key of ``KOPPEL_FERNET_KEYS``.

Rotation: put the new key first (``KOPPEL_FERNET_KEYS=new,old``), restart, run ``koppel rotate_keys``,
then drop the old key.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from koppel.connections.crypto import CredentialsUnreadable
from koppel.connections.models import Connection


class Command(BaseCommand):
    help = __doc__.strip().splitlines()[0]

    def handle(self, *args, **options) -> None:
        count = 0
        with transaction.atomic():
            for connection in Connection.objects.select_for_update().order_by("pk"):
                try:
                    connection.rotate_keys()
                except CredentialsUnreadable:
                    raise CommandError(
                        f"Connection {connection.pk} ({connection.name}) cannot be decrypted with any "
                        "configured key; nothing was changed. Add the key it was encrypted with to "
                        "KOPPEL_FERNET_KEYS."
                    ) from None
                connection.save(
                    update_fields=[
                        "source_credentials_encrypted",
                        "target_credentials_encrypted",
                        "webhook_secret_encrypted",
                    ]
                )
                count += 1
        self.stdout.write(f"Re-encrypted the credentials of {count} connection(s) with the newest key.")
