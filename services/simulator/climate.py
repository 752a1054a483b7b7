"""Ambient air temperature of Indian cities over the day and the year.

Monthly mean daily maximum and minimum temperatures (approximate IMD 1981-2010
normals, as tabulated for each city's main observatory; see the README) are
interpolated over the year; within a day the temperature follows a two-piece
cosine from the minimum shortly after sunrise to the maximum in mid-afternoon.
A slow pseudo-weather term (a few degrees over days) keeps weeks from being
identical. Everything is a pure function of time, so buses need no state for it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

#: (monthly mean daily max, monthly mean daily min), degC, January first.
CITY_NORMALS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "Chennai": (
        (29.3, 31.0, 33.1, 35.0, 37.7, 37.3, 35.4, 34.6, 34.1, 31.9, 29.5, 28.6),
        (20.4, 21.4, 23.4, 26.1, 27.9, 27.6, 26.3, 25.8, 25.4, 24.3, 22.6, 21.2),
    ),
    "Mumbai": (
        (30.6, 31.3, 32.8, 33.3, 33.9, 32.3, 30.0, 29.6, 30.6, 33.6, 33.6, 32.2),
        (16.9, 18.1, 21.4, 24.2, 27.0, 26.4, 25.3, 24.8, 24.4, 23.4, 20.7, 18.2),
    ),
    "Bengaluru": (
        (27.9, 30.7, 33.1, 34.0, 32.8, 29.2, 27.6, 27.5, 28.1, 28.0, 27.0, 26.1),
        (15.8, 17.5, 19.8, 21.5, 21.2, 19.9, 19.5, 19.4, 19.4, 19.3, 17.8, 16.2),
    ),
}

IST_OFFSET_S = 5.5 * 3600.0
_DAY = 86400.0
_T_MIN_H = 6.0  # local hour of the daily minimum
_T_MAX_H = 14.5  # local hour of the daily maximum


def _month_interp(values: tuple[float, ...], day_of_year: F64) -> F64:
    # Normals are monthly means; place each at mid-month and wrap the year.
    mids = (np.arange(12) + 0.5) * (365.25 / 12.0)
    x = np.concatenate(([mids[-1] - 365.25], mids, [mids[0] + 365.25]))
    y = np.concatenate(([values[-1]], values, [values[0]]))
    return np.interp(day_of_year, x, y)


def ambient_c(city: str, unix_s: F64 | float) -> F64:
    """Ambient temperature (degC) in ``city`` at UTC instants ``unix_s`` (seconds).

    Raises KeyError for a city without normals (see :data:`CITY_NORMALS`).
    """
    tmax_m, tmin_m = CITY_NORMALS[city]
    local = np.asarray(unix_s, dtype=np.float64) + IST_OFFSET_S
    days = local / _DAY
    doy = np.mod(days - 0.0, 365.25)  # 1970-01-01 is a January 1st
    hour = np.mod(local, _DAY) / 3600.0
    tmax = _month_interp(tmax_m, doy)
    tmin = _month_interp(tmin_m, doy)
    # Rising branch (min → max) and falling branch (max → next min), each half a cosine.
    rise_len = _T_MAX_H - _T_MIN_H
    fall_len = 24.0 - rise_len
    since_min = np.mod(hour - _T_MIN_H, 24.0)
    rising = since_min < rise_len
    frac = np.where(rising, since_min / rise_len, (since_min - rise_len) / fall_len)
    shape = np.where(rising, 0.5 - 0.5 * np.cos(math.pi * frac), 0.5 + 0.5 * np.cos(math.pi * frac))
    weather = 1.2 * np.sin(2 * math.pi * days / 6.3) + 0.8 * np.sin(2 * math.pi * days / 17.1 + 1.0)
    out: F64 = tmin + (tmax - tmin) * shape + weather
    return out


def local_hour(unix_s: F64 | float) -> F64:
    """Hour of day (0..24) in India Standard Time."""
    out: F64 = np.mod(np.asarray(unix_s, dtype=np.float64) + IST_OFFSET_S, _DAY) / 3600.0
    return out
