from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """A marketplace's own invoices to the merchant: fetched, kept, booked as purchases, reconciled."""

    name = "koppel.marketplace"
    label = "marketplace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from koppel.sync import housekeeping, kinds
        from koppel.sync.models import Kind

        from . import booking, fetching

        kinds.register(Kind.MARKETPLACE_INVOICE, booking.attempt_marketplace_invoice)
        housekeeping.register_periodic(fetching.schedule_fetches)
