"""Schemathesis hooks for .ci/fuzz-openapi: what the contract says beyond JSON Schema.

- The OpenAPI document gives two strings a format JSON Schema cannot spell
  out with a pattern; these strategies generate values of exactly those
  formats, so a request the fuzzer calls schema-valid is one the contract
  promises to accept.
- A client sends a new Idempotency-Key with every new request.
- Cross-field rules (a range's end not before its start, a child not born
  before the parent, the programme's ages) are checked here independently
  before a 400 for them counts as right (`filter_failure`).
"""

import base64
import datetime
import decimal
import json
import os
import re
import urllib.error
import urllib.request
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import strategies as st

import hypothesis.internal.lambda_sources as _lambda_sources
import schemathesis

# CPython 3.11 (this machine's 3.11.7) can fail to parse a large module when
# Hypothesis describes a lambda for a message ("SystemError: AST constructor
# recursion depth mismatch"); the description is only words in a message, so
# a failed one reads "lambda: <unknown>" instead of stopping the run.
_describe_lambda = _lambda_sources._lambda_description


def _lambda_description(f, *args, **kwargs):
    try:
        return _describe_lambda(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


_lambda_sources._lambda_description = _lambda_description

WEIGHTS_FIRST = (3, 7, 6, 1, 8, 9, 4, 5, 2)
WEIGHTS_SECOND = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _check_digit(digits, weights):
    remainder = sum(d * w for d, w in zip(digits, weights)) % 11
    return 0 if remainder == 0 else 11 - remainder


def _national_id(birth, individual, d_number):
    day = birth.day + (40 if d_number else 0)
    digits = [int(c) for c in f"{day:02}{birth.month:02}{birth.year % 100:02}{individual:03}"]
    first = _check_digit(digits, WEIGHTS_FIRST)
    second = _check_digit(digits + [first], WEIGHTS_SECOND)
    if first == 10 or second == 10:
        return None
    return "".join(map(str, digits)) + f"{first}{second}"


def _individual_numbers(birth):
    # The individual number's range says the century (Skatteetaten's rules).
    if birth.year < 2000:
        return st.integers(0, 499)
    return st.integers(500, 999)


@st.composite
def national_ids(draw):
    """Format `no-national-id`: a fødselsnummer or D-number with a real
    birth date and both modulus-11 check digits."""
    birth = draw(st.dates(datetime.date(1940, 1, 1), datetime.date(2008, 12, 31)))
    individual = draw(_individual_numbers(birth))
    number = _national_id(birth, individual, draw(st.booleans()))
    if number is None:
        # One individual number in eleven has no valid check digit.
        return draw(st.nothing())
    return number


def _public_key_of(seed):
    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def ed25519_public_keys():
    """Format `ed25519-public-key`: base64 of a point on the curve."""
    return st.binary(min_size=32, max_size=32).map(_public_key_of)


schemathesis.openapi.format("no-national-id", national_ids())
schemathesis.openapi.format("ed25519-public-key", ed25519_public_keys())


# Format `kvp-cursor`: only the service issues cursors (a page's
# `Link: rel="next"`), so no value the fuzzer could invent is one; positive
# cases leave `after` out and read the first page.
schemathesis.openapi.format("kvp-cursor", st.nothing())


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """A client sends a new Idempotency-Key with every new request (and the
    same one only with a retry of the same request, which the service answers
    as the first time); the fuzzer's generated keys repeat across different
    requests, which the service rightly refuses (422), so a schema-valid case
    gets a key of its own."""
    headers = case.headers or {}
    positive = case.meta is None or case.meta.generation.mode.is_positive
    if positive and "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = str(uuid.uuid4())


# What the service answers that JSON Schema cannot say, checked here on its
# own: a 400 for a schema-valid request is a finding unless every field it
# names breaks one of the documented rules below, as this file works out
# independently from the request (and, for rules about a participant, from
# the participant as the service reports it). A rejection no rule explains,
# or one a rule says was wrong, stays a failure.

BASE_URL = os.environ["KVP_FUZZ_BASE_URL"]
ISSUED_CURSORS = set()


@schemathesis.hook
def after_call(ctx, case, response):
    """Remembers the cursors the service issues (`Link: <…after=…>; rel="next"`)."""
    for link in response.headers.get("link", []):
        match = re.search(r"[?&]after=([A-Za-z0-9_-]+)", link)
        if match:
            ISSUED_CURSORS.add(match.group(1))


def _day_number(year, month, day):
    """Days since 0000-03-01 of a proleptic Gregorian date (year 0 too, as
    the service reads it); None for a day the calendar lacks."""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    lengths = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not 1 <= month <= 12 or not 1 <= day <= lengths[month - 1]:
        return None
    if month <= 2:
        year, month = year - 1, month + 12
    return 365 * year + year // 4 - year // 100 + year // 400 + (153 * (month - 3) + 2) // 5 + day


def _date(text):
    """A `YYYY-MM-DD` date as a day number, or None."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", text or "") if isinstance(text, str) else None
    return _day_number(*map(int, match.groups())) if match else None


def _instant(text):
    """An RFC 3339 instant as seconds, or None."""
    if not isinstance(text, str):
        return None
    match = re.fullmatch(
        r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|([+-])([0-9]{2}):([0-9]{2}))",
        text,
    )
    day = _date(match.group(1)) if match else None
    if day is None:
        return None
    hours, minutes, seconds = (int(match.group(i)) for i in (2, 3, 4))
    offset = 0
    if match.group(7):
        offset = (int(match.group(8)) * 60 + int(match.group(9))) * 60
        offset = offset if match.group(7) == "+" else -offset
    fraction = float(match.group(5) or 0)
    return day * 86400 + hours * 3600 + minutes * 60 + seconds + fraction - offset


def _reported(path, role="CASEWORKER"):
    """A resource as the service reports it (to a caseworker of the seeded
    municipality, or a national administrator); None when there is none."""
    request = urllib.request.Request(
        f"{BASE_URL}{path}",
        headers={"Authorization": f"Bearer {os.environ['KVP_FUZZ_TOKEN_' + role]}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def _birth_date_of(national_id):
    """The day number of the birth date an identity number encodes."""
    day, month, year = int(national_id[0:2]), int(national_id[2:4]), int(national_id[4:6])
    century = _century(int(national_id[6:9]), year)
    if day > 40:
        day -= 40
    born = None if century is None else _day_number(century + year, month, day)
    if born is None:
        raise ValueError("no birth date")
    return born


def _century(individual, year):
    """The century an individual number gives a two-digit year, if any."""
    if individual <= 499:
        return 1900
    if individual <= 749 and year >= 54:
        return 1800
    if year <= 39:
        return 2000
    if individual >= 900:
        return 1900
    return None


def _stored_birth_date(case):
    """The participant's birth date as the service reports it."""
    return _reported(f"/v1/participants/{case.path_parameters['id']}")["birth_date"]


def _age_on(birth, day):
    """Whole years from `birth` to `day` (both `YYYY-MM-DD`)."""
    (by, bm, bd), (y, m, d) = (map(int, birth.split("-")), map(int, day.split("-")))
    return y - by - ((m, d) < (bm, bd))


# Ranges whose end may not come before their start (`valid_until` must come
# after `valid_from`).
ORDERED = {"to": ("from", False), "end": ("start", False), "valid_until": ("valid_from", True)}


def _is_refused_control(c):
    """C0 and C1 controls and DEL, but tab, line feed and carriage return."""
    code = ord(c)
    return (code < 0x20 or 0x7F <= code <= 0x9F) and c not in "\t\n\r"


def _value_at(body, field):
    """The value a field path (`input.programmes[0].end`) names in the body."""
    value = body
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", field):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _is_national_id(text):
    """Format `no-national-id`: a real birth date and both check digits."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{11}", text):
        return False
    digits = [int(c) for c in text]
    first = _check_digit(digits[:9], WEIGHTS_FIRST)
    second = _check_digit(digits[:10], WEIGHTS_SECOND)
    if (first, second) != (digits[9], digits[10]):
        return False
    try:
        _birth_date_of(text)
    except ValueError:
        return False
    return True


# RFC 8032 5.1.3: whether 32 bytes are the encoding of a point on edwards25519.
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def _is_ed25519_point(raw):
    if len(raw) != 32:
        return False
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    sign = raw[31] >> 7
    if y >= _P:
        return False
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    if (v * x * x - u) % _P != 0:
        x = (x * pow(2, (_P - 1) // 4, _P)) % _P
        if (v * x * x - u) % _P != 0:
            return False
    return not (x == 0 and sign == 1)


def _is_ed25519_public_key(text):
    """Format `ed25519-public-key`: base64 of a point, or a PEM public key."""
    if not isinstance(text, str):
        return False
    pem = re.fullmatch(r"-----BEGIN PUBLIC KEY-----([\s\S]+)-----END PUBLIC KEY-----\s*", text)
    try:
        if pem:
            der = base64.b64decode("".join(pem.group(1).split()), validate=True)
            # SubjectPublicKeyInfo of Ed25519: a fixed 12-byte prefix, then the key.
            prefix = bytes.fromhex("302a300506032b6570032100")
            return der[:12] == prefix and len(der) == 44 and _is_ed25519_point(der[12:])
        return _is_ed25519_point(base64.b64decode(text, validate=True))
    except ValueError:
        return False


def _breaks_documented_rule(case, field, body):
    """Whether the request breaks the documented rule the field names."""
    path = case.operation.path
    value = _value_at(body, field)
    if _unrepresentable(value):
        return True
    if isinstance(value, str) and any(_is_refused_control(c) for c in value):
        # No text carries a control character but tab and line breaks (the
        # document's description).
        return True
    if field.rsplit(".", 1)[-1] == "national_id":
        return not _is_national_id(value)
    if field.rsplit(".", 1)[-1] == "public_key":
        return not _is_ed25519_public_key(value)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        # A date of the pattern's form that is no day of the calendar.
        if _date(value) is None:
            return True
    if field == "after":
        return (case.query or {}).get("after") not in ISSUED_CURSORS
    if field in ORDERED:
        start_field, strict = ORDERED[field]
        parse = _instant if strict else _date
        start, end = parse(body.get(start_field)), parse(body.get(field))
        if start is None or end is None:
            return False
        return end <= start if strict else end < start
    child = re.fullmatch(r"children\[(\d+)\]", field)
    if child and path == "/v1/participants":
        born = _date(body["children"][int(child.group(1))])
        return born is not None and born < _birth_date_of(body["national_id"])
    if field == "birth_date" and path == "/v1/participants/{id}/children":
        return _date(body.get("birth_date")) < _date(_stored_birth_date(case))
    if field == "start" and path == "/v1/participants/{id}/programmes":
        age = _age_on(_stored_birth_date(case), body.get("start"))
        return not 18 <= age <= 67
    if field == "fact.end" and path == "/v1/programmes/{id}/end":
        # An end before the programme's start, as stored.
        start = _reported(f"/v1/programmes/{case.path_parameters['id']}")["start"]
        return _date(body.get("end")) < _date(start)
    if field == "until" and path == "/v1/programmes/{id}/extensions":
        # An extension ends after the approved period it extends.
        period = _reported(f"/v1/programmes/{case.path_parameters['id']}/extensions")
        return _date(body.get("until")) <= _date(period["approved_until"])
    overlap = re.fullmatch(r"((?:input\.)?programmes)\[(\d+)\]\.start", field)
    if overlap and path == "/v1/simulations":
        # Programme periods never share a day (R3).
        periods = _value_at(body, overlap.group(1)) or []
        later = periods[int(overlap.group(2))]
        return any(_share_a_day(earlier, later) for earlier in periods[: int(overlap.group(2))])
    parameter = re.fullmatch(r"((?:input\.)?parameters\.[a-z0-9_]+)(\.([0-9-]+))?", field)
    if parameter and path == "/v1/simulations":
        return _breaks_parameter_rule(_value_at(body, parameter.group(1)), parameter.group(3))
    if field == "If-None-Match":
        # A change is conditional on the version read or on absence, not both.
        headers = {name.lower() for name in (case.headers or {})}
        return {"if-match", "if-none-match"} <= headers
    if field == "municipality_id" and path == "/v1/signer-keys":
        # A supervisor's key names a registered municipality; no other key
        # names one.
        municipality = body.get("municipality_id")
        if body.get("role") != "SUPERVISOR":
            return municipality is not None
        return municipality is None or _reported(
            f"/v1/municipalities/{municipality}", "ADMINISTRATOR"
        ) is None
    if field == "person_id" and path == "/v1/signer-keys":
        # A participant's key names the participant: a registered one's id.
        return body.get("role") == "PARTICIPANT" and not _is_participant(body.get("person_id"))
    return False


# The largest a 96-bit decimal holds (rust_decimal's MAX).
DECIMAL_MAX = decimal.Decimal(2**96 - 1)


def _unrepresentable(value):
    """A JSON number a 96-bit decimal cannot hold: written in scientific
    notation beyond its 28 decimal places or its magnitude."""
    if not isinstance(value, float):
        return False
    text = json.dumps(value)
    if "e" not in text and "E" not in text:
        return False
    exact = decimal.Decimal(text)
    return exact.as_tuple().exponent < -28 or abs(exact) > DECIMAL_MAX


def _breaks_parameter_rule(spec, date):
    """Whether a simulation's parameter breaks a rule of the parameter file:
    a table's dates in order, at least one, each value a decimal; a fraction
    in (0, 1] over at most 1 000."""
    if isinstance(spec, dict) and "value" in spec:
        spec = spec["value"]
    if date is not None:
        table = dict(spec.get("values") or {}, **spec)
        dates = [key for key in list(spec.get("values") or {}) + list(spec) if key not in ("source", "values")]
        ordered = all(_date(a) < _date(b) for a, b in zip(dates, dates[1:]))
        return not ordered or _unrepresentable(table.get(date))
    if isinstance(spec, dict):
        dates = [key for key in list(spec.get("values") or {}) + list(spec) if key not in ("source", "values")]
        return not dates
    if _unrepresentable(spec):
        return True
    if isinstance(spec, (int, float, str)) and not isinstance(spec, bool):
        numerator, _, denominator = str(spec).partition("/")
        numerator, denominator = float(numerator), float(denominator or 1)
        return not (0 < numerator <= denominator and denominator <= 1000)
    return False


def _share_a_day(first, second):
    """Whether two programme periods (`start`, `end` or open) share a day."""
    never = float("inf")
    start_1, start_2 = _date(first.get("start")), _date(second.get("start"))
    end_1 = _date(first.get("end")) if first.get("end") else never
    end_2 = _date(second.get("end")) if second.get("end") else never
    return start_1 <= end_2 and start_2 <= end_1


def _is_participant(text):
    try:
        participant = uuid.UUID(text)
    except (TypeError, ValueError):
        return False
    return _reported(f"/v1/participants/{participant}") is not None


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    if failure.code != "ST202" or response.status_code != 400:
        return True
    try:
        problem = json.loads(response.content)
    except ValueError:
        return True
    fields = [error.get("field") for error in problem.get("errors", [])]
    body = case.body if isinstance(case.body, dict) else {}
    explained = bool(fields) and all(
        _breaks_documented_rule(case, field, body) for field in fields
    )
    return not explained
