"""Which attribute of the customer a memory states (its *slot*), and the value it gives.

A correction is a new fact about a slot an older memory already fills: "call me on
503-555-0147" after "never call me, e-mail only". Recognising the slot is deterministic and
explainable (regular expressions over the text), so an operator can tell why one memory
replaced another. Slots are keyed so that attributes that can hold several values at once
stay apart: ``size:shoe`` does not replace ``size:t-shirt``, ``allergy:latex`` does not
replace ``allergy:peanuts`` (a new allergy adds, "no longer allergic to latex" corrects).
Values are normalised (digits of a phone number, lower-cased e-mail, the channel polarities
of a contact preference) so that two memories of one slot are "same value" or "changed".
"""

from __future__ import annotations

import re
from collections.abc import Callable

Slots = dict[str, str]

_FLAGS = re.IGNORECASE
_PHONE = re.compile(r"(?<!\w)(\+?\d[\d\s().-]{6,}\d)(?!\w)")
_EMAIL = re.compile(r"\b[\w.%+-]{1,64}@[\w.-]{1,190}\.[a-z]{2,24}\b", _FLAGS)
_NEGATION = re.compile(
    r"\b(not|no|never|don'?t|doesn'?t|do not|does not|no longer|stop|cannot|can'?t|won'?t)\b",
    _FLAGS,
)
_CHANNELS = {
    "phone": r"phone|call(?:s|ed|ing)?|ring",
    "email": r"e-?mails?|e-?mailed",
    "sms": r"sms|texts?|text messages?",
    "post": r"post|letters?|mail(?!\w)",
}
_CHANNEL = re.compile(r"\b(" + "|".join(_CHANNELS.values()) + r")\b", _FLAGS)
_CONTACT = re.compile(
    r"\b(contact(?:ed)?|reach|call(?:s|ed)?|e-?mail|text|phone calls?)\s*(me|is|are|only|by|via)\b"
    r"|\b(prefer|preferred)\b.*\b(" + "|".join(_CHANNELS.values()) + r")\b"
    r"|\b(never|don'?t|do not)\s+(call|e-?mail|text|phone|contact)\b",
    _FLAGS,
)
_PHONE_CUE = re.compile(r"\b(phone|mobile|cell|number|(?:call|text|reach) me (?:on|at))\b", _FLAGS)
_EMAIL_CUE = re.compile(r"\b(e-?mail|address)\b", _FLAGS)
_ADDRESS = re.compile(
    r"\b(?:(shipping|billing|delivery|home|work)\s+)?address\b(?!\s+book)"
    r"|\b(moved|live|living|ship)\s+(to|at|in)\b",
    _FLAGS,
)
_NAME = re.compile(r"\b((?i:my name is|call me|i am called|i'm called|name:))\s+([A-Z][\w'-]+)")
_SIZE = re.compile(
    r"\b(t-?shirt|shirt|shoe|trouser|pant|jeans|dress|jacket|ring|glove|hat)s?\s+size\b"
    r"|\bsize\s+(?:of\s+)?(?:my\s+)?(t-?shirt|shirt|shoe|trouser|pant|jeans|dress|jacket)s?\b",
    _FLAGS,
)
_SIZE_VALUE = re.compile(
    r"\b(xxs|xs|s|m|l|xl|xxl|xxxl|small|medium|large|extra large|\d{1,2}(?:[.,]5)?)\b\s*[.!]?$",
    _FLAGS,
)
_PAYMENT = re.compile(
    r"\b(pay|paying|payment)\b.*\b(card|paypal|invoice|cash|bank transfer|gift card|apple pay)\b"
    r"|\b(card|paypal|invoice|cash|bank transfer|gift card|apple pay)\b.*\b(pay|paying|payment)\b",
    _FLAGS,
)
_PAYMENT_METHOD = re.compile(
    r"\b(card|paypal|invoice|cash|bank transfer|gift card|apple pay)\b", _FLAGS
)
_ALLERGY = re.compile(
    r"\ballerg(?:ic|y|ies)\s+(?:to\s+)?([a-z][a-z -]{1,30}?)\b(?=[.,;!]|$| and\b)", _FLAGS
)
_CARE = re.compile(
    r"\b(wheelchair|hearing|deaf|blind|visually impaired|diabetic|pregnan\w+)\b", _FLAGS
)
_DELIVERY = re.compile(
    r"\b(leave|deliver|drop)\b.*\b(parcel|package|door|porch|neighbou?r|reception|mailbox|garage)\b"
    r"|\bdelivery instructions?\b|\bdeliver(?:ies)?\s+(?:in the|on|before|after)\b",
    _FLAGS,
)
_LANGUAGE = re.compile(
    r"\b(speak|language|reply|write|respond)\b.*\b(english|spanish|french|german|italian|"
    r"portuguese|dutch|polish|chinese|japanese|arabic)\b",
    _FLAGS,
)
_LANGUAGE_NAME = re.compile(
    r"\b(english|spanish|french|german|italian|portuguese|dutch|polish|chinese|japanese|arabic)\b",
    _FLAGS,
)
_SUBSCRIPTION = re.compile(
    r"\b(subscribe[ds]?|unsubscribe[ds]?|opt(?:ed)?[ -](?:in|out))\b"
    r"(?:.*?\b(newsletter|sms|marketing|offers|magazine|premium|plus|membership))?",
    _FLAGS,
)


# Words that change how an instruction is said, not what it says.
_FILLER = frozenset(
    ["please", "kindly", "always", "now", "from", "on", "the", "a", "an", "my", "our", "just"]
)

_REFUSED_MAIL = re.compile(
    r"\b(?:stop sending|don'?t (?:want|send)|do not (?:want|send)|no more)\b.*?"
    r"\b(newsletter|marketing|offers|magazine)s?\b",
    _FLAGS,
)


def _word_key(text: str) -> str:
    return "-".join(text.lower().replace("-", "").split())


def _polarity(text: str) -> str:
    return "-" if _NEGATION.search(text) else "+"


def _contact(text: str) -> Slots:
    text = _NAME.sub("", text)  # "call me Bob" gives a name, not a contact preference
    if not _CONTACT.search(text):
        return {}
    clauses = re.split(r"[,;]|\bbut\b|\band\b", text, flags=_FLAGS)
    marks: dict[str, str] = {}
    for clause in clauses:
        for channel, pattern in _CHANNELS.items():
            if re.search(rf"\b({pattern})\b", clause, _FLAGS):
                marks[channel] = _polarity(clause)
    value = " ".join(f"{channel}{mark}" for channel, mark in sorted(marks.items()))
    return {"contact_preference": value} if value else {}


def _phone(text: str) -> Slots:
    match = _PHONE.search(text)
    if not match or not _PHONE_CUE.search(text):
        return {}
    digits = re.sub(r"\D", "", match.group(1))
    return {"phone": digits} if len(digits) >= 7 else {}


def _email(text: str) -> Slots:
    match = _EMAIL.search(text)
    if not match or not _EMAIL_CUE.search(text):
        return {}
    return {"email": match.group(0).lower()}


def _address(text: str) -> Slots:
    match = _ADDRESS.search(text)
    if not match or not re.search(r"\d", text):
        return {}
    kind = (match.group(1) or "default").lower()
    kind = "default" if kind in ("home", "delivery") else kind
    words = re.findall(r"\w+", text[match.end() :].lower())
    return {f"address:{kind}": " ".join(w for w in words if w not in _FILLER and w != "is")}


def _name(text: str) -> Slots:
    match = _NAME.search(text)
    return {"name": match.group(2).lower()} if match else {}


def _size(text: str) -> Slots:
    match = _SIZE.search(text)
    if not match:
        return {}
    garment = _word_key(match.group(1) or match.group(2)).removesuffix("s")
    garment = "tshirt" if garment in ("tshirt", "shirt") else garment
    value = _SIZE_VALUE.search(text.strip())
    return {f"size:{garment}": value.group(1).lower() if value else _polarity(text)}


def _payment(text: str) -> Slots:
    if not _PAYMENT.search(text):
        return {}
    methods = sorted({m.lower() for m in _PAYMENT_METHOD.findall(text)})
    return {"payment_preference": _polarity(text) + "+".join(methods)}


def _allergy(text: str) -> Slots:
    return {
        f"allergy:{_word_key(match.group(1))}": _polarity(text) for match in _ALLERGY.finditer(text)
    }


def _care(text: str) -> Slots:
    return {f"care:{_word_key(m.group(1))}": _polarity(text) for m in _CARE.finditer(text)}


def _delivery(text: str) -> Slots:
    if not _DELIVERY.search(text):
        return {}
    words = [w for w in re.findall(r"\w+", text.lower()) if w not in _FILLER]
    return {"delivery_instructions": " ".join(words)}


def _language(text: str) -> Slots:
    if not _LANGUAGE.search(text):
        return {}
    return {"language": "+".join(sorted({m.lower() for m in _LANGUAGE_NAME.findall(text)}))}


def _subscription(text: str) -> Slots:
    refusal = _REFUSED_MAIL.search(text)
    if refusal:
        return {f"subscription:{refusal.group(1).lower()}": "-"}
    match = _SUBSCRIPTION.search(text)
    if not match:
        return {}
    verb = match.group(1).lower()
    off = verb.startswith("unsub") or "out" in verb or bool(_NEGATION.search(text))
    topic = (match.group(2) or "general").lower()
    return {f"subscription:{topic}": "-" if off else "+"}


RECOGNISERS: tuple[Callable[[str], Slots], ...] = (
    _contact,
    _phone,
    _email,
    _address,
    _name,
    _size,
    _payment,
    _allergy,
    _care,
    _delivery,
    _language,
    _subscription,
)


def recognise(text: str) -> Slots:
    """Every slot the text fills, with its normalised value (empty: no known attribute)."""
    found: Slots = {}
    for recogniser in RECOGNISERS:
        found.update(recogniser(text))
    return found


def keys(slots: Slots, token: Callable[[str], str] = str) -> str:
    """The slots as stored in the memory row: sorted keys, space-separated. ``token`` keys
    them per tenant with encryption on (``allergy:latex`` is personal data itself)."""
    return " ".join(sorted(token(key) for key in slots))
