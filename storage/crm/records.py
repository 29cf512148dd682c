"""The shape of CRM data as it arrives (tau2-bench retail ``users.jsonl`` / ``orders.jsonl``).

Validating every line before writing anything means a bad file is rejected whole, with line
numbers, instead of leaving half a CRM behind.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_ID = r"^[A-Za-z0-9_#.@:-]{1,128}$"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class PersonName(_Record):
    first_name: str = Field(min_length=1, max_length=200)
    last_name: str = Field(min_length=1, max_length=200)


class Address(_Record):
    address1: str = Field(default="", max_length=500)
    address2: str = Field(default="", max_length=500)
    city: str = Field(default="", max_length=200)
    state: str = Field(default="", max_length=100)
    country: str = Field(default="", max_length=100)
    zip: str = Field(default="", max_length=20)


class PaymentMethod(_Record):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str = Field(pattern=_ID)
    source: str = Field(max_length=64)
    brand: str | None = Field(default=None, max_length=64)
    last_four: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    balance: float | None = None


class UserRecord(_Record):
    user_id: str = Field(pattern=_ID)
    name: PersonName
    address: Address = Field(default_factory=Address)
    email: str | None = Field(default=None, max_length=320)
    payment_methods: dict[str, PaymentMethod] = Field(default_factory=dict)
    orders: list[str] = Field(default_factory=list)


class OrderItem(_Record):
    name: str = Field(max_length=300)
    product_id: str = Field(pattern=_ID)
    item_id: str = Field(pattern=_ID)
    price: float
    options: dict[str, Any] = Field(default_factory=dict)


class Fulfillment(_Record):
    tracking_id: list[str] = Field(default_factory=list)
    item_ids: list[str] = Field(default_factory=list)


class Payment(_Record):
    transaction_type: str = Field(max_length=64)
    amount: float
    payment_method_id: str = Field(pattern=_ID)


class OrderRecord(_Record):
    order_id: str = Field(pattern=_ID)
    user_id: str = Field(pattern=_ID)
    status: str = Field(min_length=1, max_length=64)
    address: Address = Field(default_factory=Address)
    items: list[OrderItem] = Field(default_factory=list)
    fulfillments: list[Fulfillment] = Field(default_factory=list)
    payment_history: list[Payment] = Field(default_factory=list)
