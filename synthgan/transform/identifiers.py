"""Identifier and personal-data columns: detected, never learned, generated fresh.

A column is set aside (not modelled, nothing of its values kept beyond a format, a null rate and, for
integer ids, where fresh numbering starts) when it looks like:

- an identifier: a column named like an id (``id``, ``customer_id``, ``CustomerID``, ``uuid``) whose
  values are unique, or any column of UUIDs. Synthetic ids are sequential and unique within a
  sampling call and start above the largest training id: integers, or text in the training ids'
  most common format (letters and digits counted like an odometer);
- an email address, a phone number (name hint: phone, tel, mobile, fax), a person's name (name
  hints: name, first_name, last_name, surname, full_name), or a street address (hints: address,
  street). Synthetic values are fake ones from Faker, which uses reserved example domains for
  email addresses;
- free text: a text column whose values are nearly all distinct (90% or more, at least 50 rows)
  and read like text (30% contain a space, or 20 characters on average). Synthetic values are
  random letters of the same lengths.

A column named in ``discrete_columns`` is always modelled, so a false detection can be overridden.
"""

from __future__ import annotations

import re
import string

import numpy as np
import pandas as pd

_EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
_PHONE = r"^\+?[\d\s().\-/]{7,24}$"
_UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
_NAME_HINTS = {"name", "first_name", "firstname", "last_name", "lastname", "surname", "full_name", "fullname",
               "given_name", "family_name"}
MIN_ROWS_FOR_TEXT = 50


def _tokens(name: object) -> str:
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", str(name))  # CustomerID -> Customer_ID
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _is_id_name(name: object) -> bool:
    token = _tokens(name)
    return token in ("id", "uuid", "guid", "key") or token.endswith("_id") or token.startswith("id_") \
        or token.endswith("_uuid") or token.endswith("_key")


def _share(values: pd.Series, pattern: str) -> float:
    return float(values.str.match(pattern).mean()) if len(values) else 0.0


def detect(series: pd.Series) -> str | None:
    """``id-integer``, ``id-text``, ``email``, ``phone``, ``name``, ``address``, ``text`` or None."""
    values = series.dropna()
    if len(values) < 2:
        return None
    unique = values.nunique() / len(values)
    token = _tokens(series.name)
    if pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return "id-integer" if _is_id_name(series.name) and unique == 1.0 else None
    if not (pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)):
        return None
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return None
    text = values.astype(str)
    if _share(text, _UUID) >= 0.9 or (_is_id_name(series.name) and unique >= 0.95):
        return "id-text"
    if _share(text, _EMAIL) >= 0.9:
        return "email"
    if any(hint in token.split("_") for hint in ("phone", "tel", "telephone", "mobile", "fax")) and \
            _share(text, _PHONE) >= 0.9:
        return "phone"
    if token in _NAME_HINTS and unique >= 0.5:
        return "name"
    if any(hint in token.split("_") for hint in ("address", "street")):
        return "address"
    if len(values) >= MIN_ROWS_FOR_TEXT and unique >= 0.9 and (text.str.contains(" ").mean() >= 0.3
                                                                 or text.str.len().mean() >= 20):
        return "text"  # codes without spaces (zip codes, SKUs) stay categories
    return None


def shape_of(values: pd.Series) -> str:
    """The most common character-class shape of text values (letters A/a, digits 9, the rest kept)."""
    def shape(text: str) -> str:
        return "".join("A" if c.isupper() else "a" if c.islower() else "9" if c.isdigit() else c for c in text)

    return values.dropna().astype(str).map(shape).value_counts().index[0]


_CLASSES = {"A": string.ascii_uppercase, "a": string.ascii_lowercase, "9": string.digits}


def format_ids(shape: str, numbers: np.ndarray) -> list[str]:
    """Distinct numbers written into ``shape``'s letter and digit slots (like an odometer); numbers
    beyond the shape's capacity get extra leading digits, so the ids stay distinct."""
    slots = [i for i, c in enumerate(shape) if c in _CLASSES]
    out = []
    for number in numbers.tolist():
        chars = list(shape)
        rest = int(number)
        for i in reversed(slots):
            alphabet = _CLASSES[shape[i]]
            rest, digit = divmod(rest, len(alphabet))
            chars[i] = alphabet[digit]
        out.append((str(rest) if rest else "") + "".join(chars))
    return out


def id_number(shape: str, text: str) -> int | None:
    """The odometer number of ``text`` in ``shape`` (inverse of :func:`format_ids`), or None if it
    does not fit the shape."""
    if len(text) != len(shape):
        return None
    number = 0
    for char, slot in zip(text, shape):
        alphabet = _CLASSES.get(slot)
        if alphabet is None:
            if char != slot:
                return None
            continue
        position = alphabet.find(char)
        if position < 0:
            return None
        number = number * len(alphabet) + position
    return number


def fake_values(kind: str, n: int, rng: np.random.Generator, lengths: tuple[float, float] = (8.0, 0.0)) -> list:
    """``n`` fake values of a personal-data kind, seeded from ``rng``."""
    if kind == "text":
        mean, spread = lengths
        sizes = np.maximum(1, np.round(rng.normal(mean, spread, n))).astype(int)
        letters = np.array(list(string.ascii_lowercase + " "))
        return ["".join(letters[rng.integers(len(letters), size=k)]).strip() or "x" for k in sizes]
    from faker import Faker

    fake = Faker()
    fake.seed_instance(int(rng.integers(2**31)))
    make = {"email": fake.email, "phone": fake.phone_number, "name": fake.name, "address": fake.street_address}[kind]
    return [make() for _ in range(n)]
