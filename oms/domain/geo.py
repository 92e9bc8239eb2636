"""Distances for routing: great-circle kilometres, and where a country is when an address
gives no coordinates (a rough centroid per country; enough to tell near from far)."""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0

# Approximate centroids (lat, lon) of the countries orders most often go to.
COUNTRY_CENTROIDS: dict[str, tuple[float, float]] = {
    "AT": (47.6, 14.1),
    "AU": (-25.7, 134.5),
    "BE": (50.6, 4.7),
    "BG": (42.8, 25.2),
    "BR": (-10.8, -52.9),
    "CA": (61.4, -98.3),
    "CH": (46.8, 8.2),
    "CN": (36.6, 103.8),
    "CY": (35.0, 33.2),
    "CZ": (49.8, 15.3),
    "DE": (51.1, 10.4),
    "DK": (56.0, 10.0),
    "EE": (58.7, 25.5),
    "ES": (40.2, -3.6),
    "FI": (64.5, 26.3),
    "FR": (46.6, 2.5),
    "GB": (54.2, -2.9),
    "GR": (39.1, 22.9),
    "HR": (45.1, 15.6),
    "HU": (47.2, 19.4),
    "IE": (53.2, -8.2),
    "IN": (22.9, 79.6),
    "IS": (65.0, -18.6),
    "IT": (42.8, 12.1),
    "JP": (37.6, 138.0),
    "KP": (40.2, 127.2),
    "KR": (36.4, 127.8),
    "LT": (55.3, 23.9),
    "LU": (49.8, 6.1),
    "LV": (56.9, 24.9),
    "MT": (35.9, 14.4),
    "MX": (23.9, -102.5),
    "NL": (52.2, 5.6),
    "NO": (64.6, 12.4),
    "NZ": (-41.8, 172.8),
    "PL": (52.1, 19.4),
    "PT": (39.6, -8.0),
    "RO": (45.9, 25.0),
    "RU": (61.5, 97.7),
    "SE": (62.8, 16.7),
    "SG": (1.35, 103.8),
    "SI": (46.1, 14.8),
    "SK": (48.7, 19.5),
    "TR": (39.1, 35.2),
    "UA": (49.0, 31.4),
    "US": (39.8, -98.6),
    "ZA": (-29.0, 25.1),
}


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(radians, (*a, *b))
    h = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def destination(
    country: str, lat: float | None = None, lon: float | None = None
) -> tuple[float, float] | None:
    """Where a parcel goes: the address's own coordinates, else its country's centroid,
    else None (unknown: distance then plays no part)."""
    if lat is not None and lon is not None:
        return (lat, lon)
    return COUNTRY_CENTROIDS.get(country.upper())
