"""Tax rates, a store's settings and its knobs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from koppel.sandbox.faults import FaultKnobs

# --- tax rates and the shop's settings -------------------------------------------------------------------


@dataclass(slots=True)
class TaxRate:
    id: int
    rate: Decimal
    name: str
    tax_class: str = ""
    country: str = "NL"
    priority: int = 1
    compound: bool = False

    @property
    def code(self) -> str:
        """``WC_Tax::get_rate_code``: country, state, name and priority, upper case."""
        return "-".join(p for p in (self.country, self.name or "TAX", str(self.priority)) if p).upper()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rate": f"{self.rate:.4f}",
            "name": self.name,
            "class": self.tax_class or "standard",
        }


#: Tax class slugs in the order WooCommerce lists them (standard is "").
CLASS_ORDER = ("", "reduced-rate", "intermediate-rate", "zero-rate")
DEFAULT_RATES = {
    "NL": [(21, "BTW", ""), (9, "BTW laag", "reduced-rate"), (0, "BTW 0%", "zero-rate")],
    "BE": [
        (21, "BTW", ""),
        (12, "BTW 12%", "intermediate-rate"),
        (6, "BTW 6%", "reduced-rate"),
        (0, "BTW 0%", "zero-rate"),
    ],
}


def default_rates(country: str) -> list[TaxRate]:
    table = DEFAULT_RATES.get(country.upper(), DEFAULT_RATES["NL"])
    return [
        TaxRate(n, Decimal(rate), name, cls, country.upper()) for n, (rate, name, cls) in enumerate(table, 1)
    ]


@dataclass(slots=True)
class StoreSettings:
    """What WooCommerce → Settings → General / Tax say."""

    prices_include_tax: bool = True
    tax_round_at_subtotal: bool = False
    calc_taxes: bool = True
    country: str = "NL"
    currency: str = "EUR"
    timezone: str = "Europe/Amsterdam"
    legacy_tax_lines: bool = False
    """Leave ``rate_percent`` out of ``tax_lines`` (WooCommerce before 3.7)."""


@dataclass(slots=True)
class Knobs(FaultKnobs):
    """The fault knobs (``error_rate`` answers a random 500, 502 or 503), and the store's own."""

    rate_limit_per_minute: int = 0
    """Requests allowed per sliding 60 s window; 0 (the default) switches the limit off."""
    duplicate_webhooks: int = 0
    webhooks_enabled: bool = True
    out_of_order_webhooks: bool = False
    webhook_timeout_s: float = 10.0
