"""What a CRM backend returns, and the masked views a support agent is shown.

Backends return ``Customer`` / ``Order`` (full records, never shown as is); the tools turn them
into ``CustomerView`` / ``OrderView``, which hold only what an agent needs: payment methods
reduced to their kind and last four digits, no balances of other people, no internal fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from storage.crm.records import (
    Address,
    Fulfillment,
    OrderItem,
    OrderRecord,
    Payment,
    PaymentMethod,
    UserRecord,
)


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer_id: str
    first_name: str
    last_name: str
    email: str | None = None
    address: Address = Field(default_factory=Address)
    payment_methods: list[PaymentMethod] = Field(default_factory=list)
    order_ids: list[str] = Field(default_factory=list)

    @classmethod
    def from_record(cls, record: UserRecord) -> Customer:
        return cls(
            customer_id=record.user_id,
            first_name=record.name.first_name,
            last_name=record.name.last_name,
            email=record.email,
            address=record.address,
            payment_methods=list(record.payment_methods.values()),
            order_ids=record.orders,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Customer:
        return cls(
            customer_id=row["customer_id"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row["email"],
            address=Address.model_validate(row["address"]),
            payment_methods=[PaymentMethod.model_validate(m) for m in row["payment_methods"]],
            order_ids=list(row["order_ids"]),
        )


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    customer_id: str
    status: str
    address: Address = Field(default_factory=Address)
    items: list[OrderItem] = Field(default_factory=list)
    fulfillments: list[Fulfillment] = Field(default_factory=list)
    payments: list[Payment] = Field(default_factory=list)

    @classmethod
    def from_record(cls, record: OrderRecord) -> Order:
        return cls(
            order_id=record.order_id,
            customer_id=record.user_id,
            status=record.status,
            address=record.address,
            items=record.items,
            fulfillments=record.fulfillments,
            payments=record.payment_history,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Order:
        return cls(
            order_id=row["order_id"],
            customer_id=row["customer_id"],
            status=row["status"],
            address=Address.model_validate(row["address"]),
            items=[OrderItem.model_validate(i) for i in row["items"]],
            fulfillments=[Fulfillment.model_validate(f) for f in row["fulfillments"]],
            payments=[Payment.model_validate(p) for p in row["payment_history"]],
        )


def mask_reference(method_id: str) -> str:
    """``credit_card_7815826`` -> ``credit_card_****5826``: the same in every view, so a
    model can match an order's payment to the customer's method without seeing the id."""
    kind, _, tail = method_id.rpartition("_")
    if not kind:
        return f"****{method_id[-4:]}" if len(method_id) > 4 else "****"
    return f"{kind}_****{tail[-4:]}"


def _kind(method_id: str) -> str:
    kind, _, _ = method_id.rpartition("_")
    return kind or "unknown"


class PaymentMethodView(BaseModel):
    reference: str = Field(description="Masked payment-method reference.")
    kind: str = Field(description="credit_card, gift_card, paypal, ...")
    brand: str | None = None
    last4: str | None = Field(default=None, description="Last four card digits.")
    gift_card_balance: float | None = None

    @classmethod
    def of(cls, method: PaymentMethod) -> PaymentMethodView:
        return cls(
            reference=mask_reference(method.id),
            kind=method.source,
            brand=method.brand,
            last4=method.last_four,
            gift_card_balance=method.balance if method.source == "gift_card" else None,
        )


class CustomerView(BaseModel):
    customer_id: str
    name: str
    email: str | None
    address: Address
    order_ids: list[str]
    payment_methods: list[PaymentMethodView]

    @classmethod
    def of(cls, customer: Customer) -> CustomerView:
        return cls(
            customer_id=customer.customer_id,
            name=f"{customer.first_name} {customer.last_name}",
            email=customer.email,
            address=customer.address,
            order_ids=customer.order_ids,
            payment_methods=[PaymentMethodView.of(m) for m in customer.payment_methods],
        )


class OrderItemView(BaseModel):
    name: str
    item_id: str
    product_id: str
    price: float
    options: dict[str, Any]


class ShipmentView(BaseModel):
    tracking_ids: list[str]
    item_ids: list[str]


class PaymentView(BaseModel):
    transaction: str = Field(description="payment or refund.")
    amount: float
    method_reference: str
    method_kind: str


class OrderView(BaseModel):
    order_id: str
    customer_id: str
    status: str
    items: list[OrderItemView]
    items_total: float
    shipments: list[ShipmentView] = Field(description="Fulfilled shipments with tracking ids.")
    unshipped_item_ids: list[str]
    payments: list[PaymentView]
    net_paid: float = Field(description="Payments minus refunds.")
    shipping_address: Address

    @classmethod
    def of(cls, order: Order) -> OrderView:
        shipped = {item_id for f in order.fulfillments for item_id in f.item_ids}
        payments = [
            PaymentView(
                transaction=p.transaction_type,
                amount=p.amount,
                method_reference=mask_reference(p.payment_method_id),
                method_kind=_kind(p.payment_method_id),
            )
            for p in order.payments
        ]
        net = sum(p.amount if p.transaction == "payment" else -p.amount for p in payments)
        return cls(
            order_id=order.order_id,
            customer_id=order.customer_id,
            status=order.status,
            items=[OrderItemView.model_validate(i.model_dump()) for i in order.items],
            items_total=round(sum(i.price for i in order.items), 2),
            shipments=[
                ShipmentView(tracking_ids=f.tracking_id, item_ids=f.item_ids)
                for f in order.fulfillments
            ],
            unshipped_item_ids=[i.item_id for i in order.items if i.item_id not in shipped],
            payments=payments,
            net_paid=round(net, 2),
            shipping_address=order.address,
        )
