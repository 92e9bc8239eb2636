"""ISO 4217 currency and ISO 3166-1 alpha-2 country reference data.

Used at order intake to validate an order's currency (and how many decimal
places its amounts may carry) and its shipping country. Codes are matched
exactly and upper-case only: ``"usd"`` and ``"Us"`` are not valid.

Currencies are the active ISO 4217 List One codes that are legal tender; fund
codes, precious metals, SDR-style units and testing codes (XAU, XTS, XXX, BOV,
CLF, USN, ...) are left out, as are withdrawn codes (HRK, SLL, ZWL, VEF, MRO,
STD, CUC, ANG, BGN). Countries are the 249 officially assigned ISO 3166-1
alpha-2 codes; user-assigned or reserved codes such as XK, EU and UK are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Currencies grouped by number of minor units (decimal places).
_MINOR_UNITS_0 = """
    BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF
"""
_MINOR_UNITS_3 = """
    BHD IQD JOD KWD LYD OMR TND
"""
_MINOR_UNITS_2 = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR
    JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP
    PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN
    SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST
    XCD XCG YER ZAR ZMW ZWG
"""

CURRENCY_MINOR_UNITS: Mapping[str, int] = MappingProxyType(
    {
        code: units
        for units, block in ((0, _MINOR_UNITS_0), (2, _MINOR_UNITS_2), (3, _MINOR_UNITS_3))
        for code in block.split()
    }
)

COUNTRY_CODES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
    """.split()
)


def is_currency(code: str) -> bool:
    """Return True if ``code`` is an active, legal-tender ISO 4217 code."""
    return code in CURRENCY_MINOR_UNITS


def minor_units(code: str) -> int:
    """Return the number of decimal places for ``code``; raise KeyError if unknown."""
    return CURRENCY_MINOR_UNITS[code]


def is_country(code: str) -> bool:
    """Return True if ``code`` is an officially assigned ISO 3166-1 alpha-2 code."""
    return code in COUNTRY_CODES
