"""The line types of bol.com's own invoices to its retailers (ALL_IN_ONE) and of its advertising invoices
(ADVERTISING_VIA_BOL, called BRMG before v9), as bol's invoices page and its old v3 list name them.

Each has a group, so that a bookkeeping can post it to the right account:

- ``turnover``: what the customers paid for the items sold (bol collects it and pays it out);
- ``commission``: bol's fees for selling (commission, brand authorization);
- ``logistics``: shipping and return labels bought from bol;
- ``fbb``: Fulfilment by bol (pick & pack, outbound, first mile, inbound, stock, logistical charges);
- ``advertising``: Advertising via bol (sponsored products, displays, ... with their corrections and
  discounts);
- ``corrections``: ``CORRECTION_*`` lines of the retailer invoice (``corrects`` names the line type they
  correct);
- ``compensations``: what bol pays the retailer for lost goods and other damage.

``vat_exempt``: the line carries no VAT on bol's invoice. Turnover does not (bol collects it on the
retailer's behalf; the retailer's own sales invoices carry its VAT), PostNL labels do not (PostNL is
VAT-exempt, every other carrier has the standard rate), and compensations are damages, not a supply
(an assumption: bol's docs do not say). :func:`line_type` answers an entry with ``known=False`` (group
``unknown``) for a code not in this table, so that such a line is kept and can go to a suspense account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Group = Literal[
    "turnover", "commission", "logistics", "fbb", "advertising", "corrections", "compensations", "unknown"
]
GROUPS: tuple[Group, ...] = (
    "turnover",
    "commission",
    "logistics",
    "fbb",
    "advertising",
    "corrections",
    "compensations",
)


@dataclass(frozen=True, slots=True)
class LineType:
    code: str
    label_nl: str
    label_en: str
    group: Group
    vat_exempt: bool = False
    corrects: str | None = None
    """The line type a correction corrects (``CORRECTION_TURNOVER`` → ``TURNOVER``)."""
    known: bool = True
    """False for a code bol's documentation does not name (see :func:`line_type`)."""


_BASE: tuple[tuple[str, str, str, Group, bool], ...] = (
    ("TURNOVER", "Verkoopprijs artikel(en)", "Price of the items sold and shipped", "turnover", True),
    ("COMMISSION", "Commissie", "Commission for an item sold and shipped", "commission", False),
    ("RETAILER_AUTHORIZATION", "Merkautorisatie", "Authorization of brands", "commission", False),
    ("SHIPMENT_LABEL", "Verzendlabel", "Shipping label", "logistics", False),
    ("SHIPMENT_LABEL_POST", "Verzendlabel PostNL", "Shipping label from PostNL", "logistics", True),
    ("PLAZA_RETURN_SHIPPING_LABEL", "Retourlabel", "Return label", "logistics", False),
    ("RETURN_SHIPMENT_LABEL", "Retourzendlabel", "Return shipment label", "logistics", False),
    (
        "DISTRIBUTION_BY_BOLCOM_LABEL",
        "Verzendlabel Verzenden via bol",
        "Shipping label of Verzenden via bol (VvB)",
        "logistics",
        False,
    ),
    ("PICK_PACK", "Pick & pack", "Picking and packing (FBB)", "fbb", False),
    ("OUTBOUND", "Verzendkosten LVB", "Shipment costs (FBB)", "fbb", False),
    ("FIRST_MILE", "Ophalen voorraad (first mile)", "Pick-up of inventory for bol's warehouse", "fbb", False),
    ("INBOUND", "Inslag voorraad", "Receiving inventory (FBB)", "fbb", False),
    ("STOCK", "Opslagkosten", "Inventory storage (FBB)", "fbb", False),
    ("NCK_STOCK", "Opslag niet-courante voorraad", "Not-saleable inventory (FBB)", "fbb", False),
    (
        "LOGISTICAL_CHARGE",
        "Logistieke kosten",
        "Labelling, destroying or sending back inventory (FBB)",
        "fbb",
        False,
    ),
    ("COMPENSATION", "Compensatie", "Compensation", "compensations", True),
    (
        "COMPENSATION_LOST_GOODS",
        "Compensatie zoekgeraakte artikelen",
        "Compensation for lost items",
        "compensations",
        True,
    ),
)
_CORRECTED = (
    "TURNOVER",
    "COMMISSION",
    "SHIPMENT_LABEL",
    "SHIPMENT_LABEL_POST",
    "PLAZA_RETURN_SHIPPING_LABEL",
    "PICK_PACK",
    "OUTBOUND",
    "FIRST_MILE",
    "RETAILER_AUTHORIZATION",
)
_ADVERTISING = (
    ("SPONSORED_PRODUCTS", "Gesponsorde producten", "Sponsored products"),
    ("ONLINE_MAGAZINES", "Online magazines", "Advertisements in an online magazine"),
    ("DAY_OFFER_BOOSTER", "Dagaanbieding booster", "Daily offer on the website"),
    ("DISPLAY_ONSITE", "Display onsite", "Banner on the bol website"),
    ("DISPLAY_OFFSITE", "Display offsite", "Banner on a third party's website"),
    ("SOCIAL_ADVERTISING", "Social advertising", "Advertising on social media"),
    ("PROMO_BOOSTER_PLUS", "Promo booster plus", "A specific promotion"),
    ("PROMO_BOOSTER_PLUS_HALF", "Promo booster plus half", "A specific promotion"),
)
_ADVERTISING_INVOICE = (
    ("ADVERTISING_VIA_BOL", "Adverteren via bol", "Advertising via bol", None),
    ("BRMG", "Bol Retail Media Group", "Bol Retail Media Group (before v9)", None),
    ("BRMG_REFUND", "Terugbetaling Bol Retail Media Group", "Refund of Bol Retail Media Group", "BRMG"),
)


def _table() -> dict[str, LineType]:
    table = {code: LineType(code, nl, en, group, exempt) for code, nl, en, group, exempt in _BASE}
    for code in _CORRECTED:
        base = table[code]
        table[f"CORRECTION_{code}"] = LineType(
            f"CORRECTION_{code}",
            f"Correctie {base.label_nl[0].lower()}{base.label_nl[1:]}",
            f"Correction of {base.label_en[0].lower()}{base.label_en[1:]}",
            "corrections",
            base.vat_exempt,
            code,
        )
    table["CORRECTION_CORRECTION"] = LineType(
        "CORRECTION_CORRECTION", "Correctie", "Correction (NCO, URO, bSKU labelling, stock; no longer used)",
        "corrections",
    )  # fmt: skip
    for code, nl, en in _ADVERTISING:
        table[code] = LineType(code, nl, en, "advertising")
        table[f"{code}_CORRECTION"] = LineType(
            f"{code}_CORRECTION", f"Correctie {nl.lower()}", f"Correction: {en}", "advertising", corrects=code
        )
        discount = f"{code}_DISCOUNT"
        table[discount] = LineType(discount, f"Korting {nl.lower()}", f"Discount: {en}", "advertising")
    for code, nl, en, corrects in _ADVERTISING_INVOICE:
        table[code] = LineType(code, nl, en, "advertising", corrects=corrects)
    return table


LINE_TYPES: dict[str, LineType] = _table()


def line_type(code: str | None) -> LineType:
    """The line type of ``code`` (in any case); an unknown code answers an entry with ``known=False`` and
    group ``unknown``, never an error."""
    key = (code or "").strip().upper()
    found = LINE_TYPES.get(key)
    if found is not None:
        return found
    shown = key or "(none)"
    return LineType(key, f"Onbekend regeltype {shown}", f"Unknown line type {shown}", "unknown", known=False)
