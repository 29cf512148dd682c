"""Input schemas of the CRM tools; field descriptions are what the model reads.

Every string is cleaned of control characters and bounded, and a malformed value gets a
message that says what a good one looks like (not a regular expression). Identity (tenant,
user, session) is deliberately absent: it comes from the runtime, and ``extra="forbid"``
rejects a model that tries to pass it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from tools.inputs import clean_text

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}$")
_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_ORDER_ID = re.compile(r"^#?[A-Za-z0-9_-]{1,63}$")
_ZIP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,11}$")
_NAME = re.compile(r"^[^\d@]{1,100}$")


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return check


def _text(pattern: re.Pattern[str], what: str) -> object:
    return Annotated[str, BeforeValidator(clean_text), AfterValidator(_matching(pattern, what))]


Email = _text(_EMAIL, "an e-mail address like name@example.com")
CustomerId = _text(_CUSTOMER_ID, "a customer id: 1-128 letters, digits, _ . : -")
OrderId = _text(_ORDER_ID, "an order id like #W2611340")
Zip = _text(_ZIP, "a zip / postal code (2-12 letters, digits, spaces or dashes)")
PersonName = _text(_NAME, "a name of 1-100 characters without digits or @")


class LookupCustomerInput(BaseModel):
    """Find the customer account you are talking to."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = Field(
        default=None, description="The customer's e-mail address, exactly as they wrote it."
    )
    customer_id: CustomerId | None = Field(
        default=None,
        description="A customer id (like noah_brown_6181) from an earlier lookup or the customer.",
    )
    first_name: PersonName | None = Field(
        default=None, description="First name; use only together with last_name and zip."
    )
    last_name: PersonName | None = Field(
        default=None, description="Last name; use only together with first_name and zip."
    )
    zip: Zip | None = Field(
        default=None,
        description="Zip / postal code of the customer's address; only with first_name and last_name.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> LookupCustomerInput:
        name_parts = (self.first_name, self.last_name, self.zip)
        by_name = any(part is not None for part in name_parts)
        if sum((self.email is not None, self.customer_id is not None, by_name)) != 1:
            raise ValueError(
                "give exactly one of: email; customer_id; or first_name + last_name + zip"
            )
        if by_name and not all(name_parts):
            raise ValueError("a name lookup needs all three of first_name, last_name and zip")
        return self


class GetOrderInput(BaseModel):
    """Fetch one order with its status, items, shipments and payments."""

    model_config = ConfigDict(extra="forbid")

    order_id: OrderId = Field(
        description="The order id, e.g. #W2611340 (the leading # may be omitted)."
    )
    customer_id: CustomerId | None = Field(
        default=None,
        description=(
            "The verified customer's id from lookup_customer; when given, an order of "
            "another customer is reported as not found."
        ),
    )
