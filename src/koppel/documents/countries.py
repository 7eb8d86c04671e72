"""ISO 3166-1 country table with Dutch and English names and EU membership.

Pure Python, no Django and no third-party dependencies, so it can be used anywhere
(connectors, document rendering, tests). All lookup tables are built once at import time.

Dutch names follow the short forms used in Dutch invoicing software ("Nederland",
"België", "Verenigd Koninkrijk"); English names are the ISO 3166-1 short names, with the
inverted or formal forms ("Korea, Republic of") replaced by their common form ("South Korea").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = [
    "COUNTRIES",
    "EU_MEMBER_CODES",
    "Country",
    "country_by_code",
    "is_eu",
    "resolve_country",
]

EU_MEMBER_CODES: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip
"""Alpha-2 codes of the 27 EU member states."""

_GREECE_VAT_PREFIX = "EL"


@dataclass(frozen=True, slots=True)
class Country:
    """One ISO 3166-1 country or territory."""

    alpha2: str
    alpha3: str
    name_nl: str
    name_en: str
    eu: bool

    @property
    def vat_prefix(self) -> str | None:
        """EU VAT-number prefix: "EL" for Greece, the alpha-2 code for other EU members, else None."""
        if not self.eu:
            return None
        return _GREECE_VAT_PREFIX if self.alpha2 == "GR" else self.alpha2


# (alpha-2, alpha-3, Dutch name, English name), ordered by alpha-2.
_TABLE: tuple[tuple[str, str, str, str], ...] = (
    ("AD", "AND", "Andorra", "Andorra"),
    ("AE", "ARE", "Verenigde Arabische Emiraten", "United Arab Emirates"),
    ("AF", "AFG", "Afghanistan", "Afghanistan"),
    ("AG", "ATG", "Antigua en Barbuda", "Antigua and Barbuda"),
    ("AI", "AIA", "Anguilla", "Anguilla"),
    ("AL", "ALB", "Albanië", "Albania"),
    ("AM", "ARM", "Armenië", "Armenia"),
    ("AO", "AGO", "Angola", "Angola"),
    ("AQ", "ATA", "Antarctica", "Antarctica"),
    ("AR", "ARG", "Argentinië", "Argentina"),
    ("AS", "ASM", "Amerikaans-Samoa", "American Samoa"),
    ("AT", "AUT", "Oostenrijk", "Austria"),
    ("AU", "AUS", "Australië", "Australia"),
    ("AW", "ABW", "Aruba", "Aruba"),
    ("AX", "ALA", "Åland", "Åland Islands"),
    ("AZ", "AZE", "Azerbeidzjan", "Azerbaijan"),
    ("BA", "BIH", "Bosnië en Herzegovina", "Bosnia and Herzegovina"),
    ("BB", "BRB", "Barbados", "Barbados"),
    ("BD", "BGD", "Bangladesh", "Bangladesh"),
    ("BE", "BEL", "België", "Belgium"),
    ("BF", "BFA", "Burkina Faso", "Burkina Faso"),
    ("BG", "BGR", "Bulgarije", "Bulgaria"),
    ("BH", "BHR", "Bahrein", "Bahrain"),
    ("BI", "BDI", "Burundi", "Burundi"),
    ("BJ", "BEN", "Benin", "Benin"),
    ("BL", "BLM", "Saint-Barthélemy", "Saint Barthélemy"),
    ("BM", "BMU", "Bermuda", "Bermuda"),
    ("BN", "BRN", "Brunei", "Brunei"),
    ("BO", "BOL", "Bolivia", "Bolivia"),
    ("BQ", "BES", "Caribisch Nederland", "Bonaire, Sint Eustatius and Saba"),
    ("BR", "BRA", "Brazilië", "Brazil"),
    ("BS", "BHS", "Bahama's", "Bahamas"),
    ("BT", "BTN", "Bhutan", "Bhutan"),
    ("BV", "BVT", "Bouveteiland", "Bouvet Island"),
    ("BW", "BWA", "Botswana", "Botswana"),
    ("BY", "BLR", "Belarus", "Belarus"),
    ("BZ", "BLZ", "Belize", "Belize"),
    ("CA", "CAN", "Canada", "Canada"),
    ("CC", "CCK", "Cocoseilanden", "Cocos (Keeling) Islands"),
    ("CD", "COD", "Congo-Kinshasa", "Democratic Republic of the Congo"),
    ("CF", "CAF", "Centraal-Afrikaanse Republiek", "Central African Republic"),
    ("CG", "COG", "Congo-Brazzaville", "Republic of the Congo"),
    ("CH", "CHE", "Zwitserland", "Switzerland"),
    ("CI", "CIV", "Ivoorkust", "Côte d'Ivoire"),
    ("CK", "COK", "Cookeilanden", "Cook Islands"),
    ("CL", "CHL", "Chili", "Chile"),
    ("CM", "CMR", "Kameroen", "Cameroon"),
    ("CN", "CHN", "China", "China"),
    ("CO", "COL", "Colombia", "Colombia"),
    ("CR", "CRI", "Costa Rica", "Costa Rica"),
    ("CU", "CUB", "Cuba", "Cuba"),
    ("CV", "CPV", "Kaapverdië", "Cabo Verde"),
    ("CW", "CUW", "Curaçao", "Curaçao"),
    ("CX", "CXR", "Christmaseiland", "Christmas Island"),
    ("CY", "CYP", "Cyprus", "Cyprus"),
    ("CZ", "CZE", "Tsjechië", "Czechia"),
    ("DE", "DEU", "Duitsland", "Germany"),
    ("DJ", "DJI", "Djibouti", "Djibouti"),
    ("DK", "DNK", "Denemarken", "Denmark"),
    ("DM", "DMA", "Dominica", "Dominica"),
    ("DO", "DOM", "Dominicaanse Republiek", "Dominican Republic"),
    ("DZ", "DZA", "Algerije", "Algeria"),
    ("EC", "ECU", "Ecuador", "Ecuador"),
    ("EE", "EST", "Estland", "Estonia"),
    ("EG", "EGY", "Egypte", "Egypt"),
    ("EH", "ESH", "Westelijke Sahara", "Western Sahara"),
    ("ER", "ERI", "Eritrea", "Eritrea"),
    ("ES", "ESP", "Spanje", "Spain"),
    ("ET", "ETH", "Ethiopië", "Ethiopia"),
    ("FI", "FIN", "Finland", "Finland"),
    ("FJ", "FJI", "Fiji", "Fiji"),
    ("FK", "FLK", "Falklandeilanden", "Falkland Islands"),
    ("FM", "FSM", "Micronesia", "Micronesia"),
    ("FO", "FRO", "Faeröer", "Faroe Islands"),
    ("FR", "FRA", "Frankrijk", "France"),
    ("GA", "GAB", "Gabon", "Gabon"),
    ("GB", "GBR", "Verenigd Koninkrijk", "United Kingdom"),
    ("GD", "GRD", "Grenada", "Grenada"),
    ("GE", "GEO", "Georgia", "Georgia"),
    ("GF", "GUF", "Frans-Guyana", "French Guiana"),
    ("GG", "GGY", "Guernsey", "Guernsey"),
    ("GH", "GHA", "Ghana", "Ghana"),
    ("GI", "GIB", "Gibraltar", "Gibraltar"),
    ("GL", "GRL", "Groenland", "Greenland"),
    ("GM", "GMB", "Gambia", "Gambia"),
    ("GN", "GIN", "Guinee", "Guinea"),
    ("GP", "GLP", "Guadeloupe", "Guadeloupe"),
    ("GQ", "GNQ", "Equatoriaal-Guinea", "Equatorial Guinea"),
    ("GR", "GRC", "Griekenland", "Greece"),
    (
        "GS",
        "SGS",
        "Zuid-Georgia en de Zuidelijke Sandwicheilanden",
        "South Georgia and the South Sandwich Islands",
    ),
    ("GT", "GTM", "Guatemala", "Guatemala"),
    ("GU", "GUM", "Guam", "Guam"),
    ("GW", "GNB", "Guinee-Bissau", "Guinea-Bissau"),
    ("GY", "GUY", "Guyana", "Guyana"),
    ("HK", "HKG", "Hongkong", "Hong Kong"),
    ("HM", "HMD", "Heard en McDonaldeilanden", "Heard Island and McDonald Islands"),
    ("HN", "HND", "Honduras", "Honduras"),
    ("HR", "HRV", "Kroatië", "Croatia"),
    ("HT", "HTI", "Haïti", "Haiti"),
    ("HU", "HUN", "Hongarije", "Hungary"),
    ("ID", "IDN", "Indonesië", "Indonesia"),
    ("IE", "IRL", "Ierland", "Ireland"),
    ("IL", "ISR", "Israël", "Israel"),
    ("IM", "IMN", "Isle of Man", "Isle of Man"),
    ("IN", "IND", "India", "India"),
    ("IO", "IOT", "Brits Indische Oceaanterritorium", "British Indian Ocean Territory"),
    ("IQ", "IRQ", "Irak", "Iraq"),
    ("IR", "IRN", "Iran", "Iran"),
    ("IS", "ISL", "IJsland", "Iceland"),
    ("IT", "ITA", "Italië", "Italy"),
    ("JE", "JEY", "Jersey", "Jersey"),
    ("JM", "JAM", "Jamaica", "Jamaica"),
    ("JO", "JOR", "Jordanië", "Jordan"),
    ("JP", "JPN", "Japan", "Japan"),
    ("KE", "KEN", "Kenia", "Kenya"),
    ("KG", "KGZ", "Kirgizië", "Kyrgyzstan"),
    ("KH", "KHM", "Cambodja", "Cambodia"),
    ("KI", "KIR", "Kiribati", "Kiribati"),
    ("KM", "COM", "Comoren", "Comoros"),
    ("KN", "KNA", "Saint Kitts en Nevis", "Saint Kitts and Nevis"),
    ("KP", "PRK", "Noord-Korea", "North Korea"),
    ("KR", "KOR", "Zuid-Korea", "South Korea"),
    ("KW", "KWT", "Koeweit", "Kuwait"),
    ("KY", "CYM", "Kaaimaneilanden", "Cayman Islands"),
    ("KZ", "KAZ", "Kazachstan", "Kazakhstan"),
    ("LA", "LAO", "Laos", "Laos"),
    ("LB", "LBN", "Libanon", "Lebanon"),
    ("LC", "LCA", "Saint Lucia", "Saint Lucia"),
    ("LI", "LIE", "Liechtenstein", "Liechtenstein"),
    ("LK", "LKA", "Sri Lanka", "Sri Lanka"),
    ("LR", "LBR", "Liberia", "Liberia"),
    ("LS", "LSO", "Lesotho", "Lesotho"),
    ("LT", "LTU", "Litouwen", "Lithuania"),
    ("LU", "LUX", "Luxemburg", "Luxembourg"),
    ("LV", "LVA", "Letland", "Latvia"),
    ("LY", "LBY", "Libië", "Libya"),
    ("MA", "MAR", "Marokko", "Morocco"),
    ("MC", "MCO", "Monaco", "Monaco"),
    ("MD", "MDA", "Moldavië", "Moldova"),
    ("ME", "MNE", "Montenegro", "Montenegro"),
    ("MF", "MAF", "Saint-Martin", "Saint Martin"),
    ("MG", "MDG", "Madagaskar", "Madagascar"),
    ("MH", "MHL", "Marshalleilanden", "Marshall Islands"),
    ("MK", "MKD", "Noord-Macedonië", "North Macedonia"),
    ("ML", "MLI", "Mali", "Mali"),
    ("MM", "MMR", "Myanmar", "Myanmar"),
    ("MN", "MNG", "Mongolië", "Mongolia"),
    ("MO", "MAC", "Macau", "Macao"),
    ("MP", "MNP", "Noordelijke Marianen", "Northern Mariana Islands"),
    ("MQ", "MTQ", "Martinique", "Martinique"),
    ("MR", "MRT", "Mauritanië", "Mauritania"),
    ("MS", "MSR", "Montserrat", "Montserrat"),
    ("MT", "MLT", "Malta", "Malta"),
    ("MU", "MUS", "Mauritius", "Mauritius"),
    ("MV", "MDV", "Maldiven", "Maldives"),
    ("MW", "MWI", "Malawi", "Malawi"),
    ("MX", "MEX", "Mexico", "Mexico"),
    ("MY", "MYS", "Maleisië", "Malaysia"),
    ("MZ", "MOZ", "Mozambique", "Mozambique"),
    ("NA", "NAM", "Namibië", "Namibia"),
    ("NC", "NCL", "Nieuw-Caledonië", "New Caledonia"),
    ("NE", "NER", "Niger", "Niger"),
    ("NF", "NFK", "Norfolk", "Norfolk Island"),
    ("NG", "NGA", "Nigeria", "Nigeria"),
    ("NI", "NIC", "Nicaragua", "Nicaragua"),
    ("NL", "NLD", "Nederland", "Netherlands"),
    ("NO", "NOR", "Noorwegen", "Norway"),
    ("NP", "NPL", "Nepal", "Nepal"),
    ("NR", "NRU", "Nauru", "Nauru"),
    ("NU", "NIU", "Niue", "Niue"),
    ("NZ", "NZL", "Nieuw-Zeeland", "New Zealand"),
    ("OM", "OMN", "Oman", "Oman"),
    ("PA", "PAN", "Panama", "Panama"),
    ("PE", "PER", "Peru", "Peru"),
    ("PF", "PYF", "Frans-Polynesië", "French Polynesia"),
    ("PG", "PNG", "Papoea-Nieuw-Guinea", "Papua New Guinea"),
    ("PH", "PHL", "Filipijnen", "Philippines"),
    ("PK", "PAK", "Pakistan", "Pakistan"),
    ("PL", "POL", "Polen", "Poland"),
    ("PM", "SPM", "Saint-Pierre en Miquelon", "Saint Pierre and Miquelon"),
    ("PN", "PCN", "Pitcairneilanden", "Pitcairn"),
    ("PR", "PRI", "Puerto Rico", "Puerto Rico"),
    ("PS", "PSE", "Palestina", "Palestine"),
    ("PT", "PRT", "Portugal", "Portugal"),
    ("PW", "PLW", "Palau", "Palau"),
    ("PY", "PRY", "Paraguay", "Paraguay"),
    ("QA", "QAT", "Qatar", "Qatar"),
    ("RE", "REU", "Réunion", "Réunion"),
    ("RO", "ROU", "Roemenië", "Romania"),
    ("RS", "SRB", "Servië", "Serbia"),
    ("RU", "RUS", "Rusland", "Russia"),
    ("RW", "RWA", "Rwanda", "Rwanda"),
    ("SA", "SAU", "Saoedi-Arabië", "Saudi Arabia"),
    ("SB", "SLB", "Salomonseilanden", "Solomon Islands"),
    ("SC", "SYC", "Seychellen", "Seychelles"),
    ("SD", "SDN", "Soedan", "Sudan"),
    ("SE", "SWE", "Zweden", "Sweden"),
    ("SG", "SGP", "Singapore", "Singapore"),
    ("SH", "SHN", "Sint-Helena", "Saint Helena, Ascension and Tristan da Cunha"),
    ("SI", "SVN", "Slovenië", "Slovenia"),
    ("SJ", "SJM", "Spitsbergen en Jan Mayen", "Svalbard and Jan Mayen"),
    ("SK", "SVK", "Slowakije", "Slovakia"),
    ("SL", "SLE", "Sierra Leone", "Sierra Leone"),
    ("SM", "SMR", "San Marino", "San Marino"),
    ("SN", "SEN", "Senegal", "Senegal"),
    ("SO", "SOM", "Somalië", "Somalia"),
    ("SR", "SUR", "Suriname", "Suriname"),
    ("SS", "SSD", "Zuid-Soedan", "South Sudan"),
    ("ST", "STP", "Sao Tomé en Principe", "Sao Tome and Principe"),
    ("SV", "SLV", "El Salvador", "El Salvador"),
    ("SX", "SXM", "Sint-Maarten", "Sint Maarten"),
    ("SY", "SYR", "Syrië", "Syria"),
    ("SZ", "SWZ", "Eswatini", "Eswatini"),
    ("TC", "TCA", "Turks- en Caicoseilanden", "Turks and Caicos Islands"),
    ("TD", "TCD", "Tsjaad", "Chad"),
    ("TF", "ATF", "Franse Zuidelijke Gebieden", "French Southern Territories"),
    ("TG", "TGO", "Togo", "Togo"),
    ("TH", "THA", "Thailand", "Thailand"),
    ("TJ", "TJK", "Tadzjikistan", "Tajikistan"),
    ("TK", "TKL", "Tokelau", "Tokelau"),
    ("TL", "TLS", "Oost-Timor", "Timor-Leste"),
    ("TM", "TKM", "Turkmenistan", "Turkmenistan"),
    ("TN", "TUN", "Tunesië", "Tunisia"),
    ("TO", "TON", "Tonga", "Tonga"),
    ("TR", "TUR", "Turkije", "Türkiye"),
    ("TT", "TTO", "Trinidad en Tobago", "Trinidad and Tobago"),
    ("TV", "TUV", "Tuvalu", "Tuvalu"),
    ("TW", "TWN", "Taiwan", "Taiwan"),
    ("TZ", "TZA", "Tanzania", "Tanzania"),
    ("UA", "UKR", "Oekraïne", "Ukraine"),
    ("UG", "UGA", "Oeganda", "Uganda"),
    (
        "UM",
        "UMI",
        "Kleine afgelegen eilanden van de Verenigde Staten",
        "United States Minor Outlying Islands",
    ),
    ("US", "USA", "Verenigde Staten", "United States"),
    ("UY", "URY", "Uruguay", "Uruguay"),
    ("UZ", "UZB", "Oezbekistan", "Uzbekistan"),
    ("VA", "VAT", "Vaticaanstad", "Vatican City"),
    ("VC", "VCT", "Saint Vincent en de Grenadines", "Saint Vincent and the Grenadines"),
    ("VE", "VEN", "Venezuela", "Venezuela"),
    ("VG", "VGB", "Britse Maagdeneilanden", "British Virgin Islands"),
    ("VI", "VIR", "Amerikaanse Maagdeneilanden", "U.S. Virgin Islands"),
    ("VN", "VNM", "Vietnam", "Vietnam"),
    ("VU", "VUT", "Vanuatu", "Vanuatu"),
    ("WF", "WLF", "Wallis en Futuna", "Wallis and Futuna"),
    ("WS", "WSM", "Samoa", "Samoa"),
    ("YE", "YEM", "Jemen", "Yemen"),
    ("YT", "MYT", "Mayotte", "Mayotte"),
    ("ZA", "ZAF", "Zuid-Afrika", "South Africa"),
    ("ZM", "ZMB", "Zambia", "Zambia"),
    ("ZW", "ZWE", "Zimbabwe", "Zimbabwe"),
)

COUNTRIES: tuple[Country, ...] = tuple(
    Country(alpha2=a2, alpha3=a3, name_nl=nl, name_en=en, eu=a2 in EU_MEMBER_CODES)
    for a2, a3, nl, en in _TABLE
)
"""All 249 ISO 3166-1 entries, ordered by alpha-2 code."""

# Codes that are not ISO 3166-1 but show up in practice: the Greek VAT prefix and "UK".
_CODE_ALIASES: dict[str, str] = {"EL": "GR", "UK": "GB"}

# Real alternative names (formal/ISO forms, older names, endonyms) -> alpha-2.
_NAME_ALIASES: dict[str, str] = {
    # Netherlands
    "Holland": "NL",
    "The Netherlands": "NL",
    "Kingdom of the Netherlands": "NL",
    "Koninkrijk der Nederlanden": "NL",
    # Belgium
    "Belgique": "BE",
    "Belgien": "BE",
    "Kingdom of Belgium": "BE",
    # Germany
    "Deutschland": "DE",
    "Federal Republic of Germany": "DE",
    "Bondsrepubliek Duitsland": "DE",
    # Austria, Switzerland, Luxembourg
    "Österreich": "AT",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
    "Lëtzebuerg": "LU",
    "Luxemburg (Groothertogdom)": "LU",
    "Grand Duchy of Luxembourg": "LU",
    # Other EU member states (endonyms and older names)
    "España": "ES",
    "Italia": "IT",
    "Polska": "PL",
    "Czech Republic": "CZ",
    "Česko": "CZ",
    "Tsjechische Republiek": "CZ",
    "Danmark": "DK",
    "Sverige": "SE",
    "Suomi": "FI",
    "Hellas": "GR",
    "Hellenic Republic": "GR",
    "Magyarország": "HU",
    "Éire": "IE",
    "Hrvatska": "HR",
    "Slovenija": "SI",
    "Slovensko": "SK",
    "Slovak Republic": "SK",
    "Eesti": "EE",
    "Latvija": "LV",
    "Lietuva": "LT",
    "România": "RO",
    "Norge": "NO",
    # United Kingdom
    "Great Britain": "GB",
    "UK": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "United Kingdom of Great Britain and Northern Ireland": "GB",
    "Groot-Brittannië": "GB",
    "Engeland": "GB",
    "Schotland": "GB",
    "Noord-Ierland": "GB",
    # United States
    "United States of America": "US",
    "USA": "US",
    "U.S.": "US",
    "Verenigde Staten van Amerika": "US",
    "Amerika": "US",
    # Other common alternatives and the ISO 3166-1 formal short names
    "Turkey": "TR",
    "Russian Federation": "RU",
    "Wit-Rusland": "BY",
    "Ivory Coast": "CI",
    "Cape Verde": "CV",
    "Swaziland": "SZ",
    "Macedonia": "MK",
    "Macedonië": "MK",
    "Burma": "MM",
    "Birma": "MM",
    "East Timor": "TL",
    "Macau": "MO",
    "Vatican": "VA",
    "Holy See": "VA",
    "Holy See (Vatican City State)": "VA",
    "Vaticaanstad, Staat": "VA",
    "Brunei Darussalam": "BN",
    "Bolivia, Plurinational State of": "BO",
    "Bolivia, Multinationale Staat": "BO",
    "Bonaire, Sint Eustatius en Saba": "BQ",
    "Ålandseilanden": "AX",
    "Cocoseilanden (Keelingeilanden)": "CC",
    "Congo": "CG",
    "DR Congo": "CD",
    "Congo, The Democratic Republic of the": "CD",
    "Congo, Democratische Republiek": "CD",
    "Democratische Republiek Congo": "CD",
    "Falkland Islands (Malvinas)": "FK",
    "Falklandeilanden (Malvinas)": "FK",
    "Micronesia, Federated States of": "FM",
    "Heardeiland en McDonaldeilanden": "HM",
    "Eiland Man": "IM",
    "Iran, Islamic Republic of": "IR",
    "Korea, Republic of": "KR",
    "Korea, Republiek": "KR",
    "Korea, Democratic People's Republic of": "KP",
    "Korea, Democratische Volksrepubliek": "KP",
    "Lao People's Democratic Republic": "LA",
    "Moldova, Republic of": "MD",
    "Moldavië, Republiek": "MD",
    "Saint Martin (French part)": "MF",
    "Sint-Maarten (Frans deel)": "MF",
    "Sint Maarten (Dutch part)": "SX",
    "Sint Maarten (Nederlands deel)": "SX",
    "Palestine, State of": "PS",
    "Palestina, Staat": "PS",
    "Sint-Helena, Ascension en Tristan da Cunha": "SH",
    "Saint Helena": "SH",
    "Syrian Arab Republic": "SY",
    "Taiwan, Province of China": "TW",
    "Tanzania, United Republic of": "TZ",
    "Venezuela, Bolivarian Republic of": "VE",
    "Venezuela, Bolivariaanse Republiek": "VE",
    "Virgin Islands, British": "VG",
    "Maagdeneilanden, Britse": "VG",
    "Virgin Islands, U.S.": "VI",
    "Maagdeneilanden, Amerikaanse": "VI",
    "Viet Nam": "VN",
}


def _normalize_name(value: str) -> str:
    """Fold a name to a lookup key: case-insensitive, accents, dots and hyphens ignored, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", value.replace("’", "'").replace("‘", "'"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace(".", "").replace("-", " ")
    return " ".join(stripped.casefold().split())


def _build_code_index() -> dict[str, Country]:
    index: dict[str, Country] = {}
    for country in COUNTRIES:
        index[country.alpha2] = country
        index[country.alpha3] = country
    for alias, alpha2 in _CODE_ALIASES.items():
        index[alias] = index[alpha2]
    return index


def _build_name_index(by_code: dict[str, Country]) -> dict[str, Country]:
    index: dict[str, Country] = {}

    def add(name: str, country: Country) -> None:
        key = _normalize_name(name)
        existing = index.setdefault(key, country)
        if existing is not country:
            raise ValueError(f"country name {name!r} is ambiguous: {existing.alpha2} and {country.alpha2}")

    for country in COUNTRIES:
        add(country.name_nl, country)
        add(country.name_en, country)
    for alias, alpha2 in _NAME_ALIASES.items():
        add(alias, by_code[alpha2])
    return index


_BY_CODE: dict[str, Country] = _build_code_index()
_BY_NAME: dict[str, Country] = _build_name_index(_BY_CODE)


def country_by_code(code: str) -> Country | None:
    """Look up a country by alpha-2 or alpha-3 code (case-insensitive, whitespace trimmed).

    Also accepts "EL" (Greek VAT prefix) for GR and "UK" for GB. Returns None when unknown.
    """
    return _BY_CODE.get(code.strip().upper())


def resolve_country(value: str) -> Country | None:
    """Resolve a code or a Dutch/English name (or a common alternative name) to a country.

    Matching is case-insensitive and ignores accents and surrounding whitespace, so "Belgie",
    "belgië", "BE", "BEL" and "Belgium" all give Belgium. Returns None for empty or unknown input.
    """
    text = value.strip()
    if not text:
        return None
    return country_by_code(text) or _BY_NAME.get(_normalize_name(text))


def is_eu(code: str) -> bool:
    """Whether the alpha-2/alpha-3 code (or "EL") is an EU member state."""
    country = country_by_code(code)
    return country is not None and country.eu
