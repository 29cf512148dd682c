"""CRM backend over HTTP (httpx), for a CRM that lives elsewhere.

The API it expects (all JSON, tenant in the ``X-Tenant-ID`` header, Bearer API key):
``POST {base}/customers/search`` with one of ``{"email"}``, ``{"customer_id"}``,
``{"first_name", "last_name", "zip"}`` and ``limit`` -> ``{"customers": [<user record>]}``;
``GET {base}/orders/{order_id}`` -> ``<order record>`` (404: no such order). Records have the
tau2-bench retail shape. Lookups are POSTed so e-mails and names never appear in URLs, which
HTTP clients, proxies and servers log.

Every request's timeout is the client's, cut to the deadline of the guarded call
(``request_timeout``), so sync and async lookups alike end when the call's budget does.

Failures become ``ToolError`` subclasses whose messages carry the status code and nothing the
server sent back (a body may echo headers); the API key lives in a ``SecretStr`` and in the
client's default headers only, so it is in no message, log line or repr.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, ValidationError

from storage.crm.records import OrderRecord, UserRecord
from tools.config import CRMConfig
from tools.crm.backend import CRMBackend, CustomerQuery, order_id_candidates
from tools.crm.models import Customer, Order
from tools.errors import (
    DependencyError,
    DependencyTimeoutError,
    InvalidInputError,
    RateLimitedError,
    ToolError,
)
from tools.resilience.http_timeout import request_timeout

log = logging.getLogger(__name__)
DEPENDENCY = "crm"


class _SearchResponse(BaseModel):
    customers: list[UserRecord] = Field(default_factory=list)


def _search_body(query: CustomerQuery, limit: int) -> dict[str, Any]:
    if query.customer_id is not None:
        body: dict[str, Any] = {"customer_id": query.customer_id}
    elif query.email is not None:
        body = {"email": query.email}
    else:
        body = {"first_name": query.first_name, "last_name": query.last_name, "zip": query.zip}
    return {**body, "limit": limit}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _status_error(response: httpx.Response, operation: str) -> ToolError:
    status = response.status_code
    log.warning("crm %s failed with HTTP %s", operation, status)
    if status in (401, 403):
        return DependencyError(
            f"the CRM refused our credentials (HTTP {status}); an operator must check crm.api_key",
            retryable=False,
            dependency=DEPENDENCY,
        )
    if status == 429:
        return RateLimitedError(
            "the CRM is rate limiting us; try again shortly",
            retry_after_s=_retry_after(response),
            dependency=DEPENDENCY,
        )
    if status in (400, 422):
        return InvalidInputError(
            f"the CRM rejected the {operation} request as invalid (HTTP {status})",
            dependency=DEPENDENCY,
        )
    return DependencyError(
        f"the CRM failed the {operation} request (HTTP {status})",
        retryable=status >= 500 or status == 408,
        dependency=DEPENDENCY,
    )


def _transport_error(exc: httpx.TransportError, operation: str) -> ToolError:
    log.warning("crm %s failed: %s", operation, type(exc).__name__)
    if isinstance(exc, httpx.TimeoutException):
        return DependencyTimeoutError(
            f"the CRM did not answer the {operation} request in time",
            dependency=DEPENDENCY,
        )
    return DependencyError(
        f"the CRM could not be reached for {operation} ({type(exc).__name__})",
        retryable=True,
        dependency=DEPENDENCY,
    )


def _malformed(operation: str) -> DependencyError:
    log.warning("crm %s returned a malformed body", operation)
    return DependencyError(
        f"the CRM returned a malformed {operation} response",
        retryable=False,
        dependency=DEPENDENCY,
    )


def _parse_customers(response: httpx.Response) -> list[Customer]:
    if response.status_code == 404:
        return []
    if not response.is_success:
        raise _status_error(response, "customer lookup")
    try:
        parsed = _SearchResponse.model_validate_json(response.content)
    except ValidationError:
        raise _malformed("customer lookup") from None
    return [Customer.from_record(record) for record in parsed.customers]


def _parse_order(response: httpx.Response) -> Order | None:
    if response.status_code == 404:
        return None
    if not response.is_success:
        raise _status_error(response, "order lookup")
    try:
        return Order.from_record(OrderRecord.model_validate_json(response.content))
    except ValidationError:
        raise _malformed("order lookup") from None


class HTTPCRMBackend(CRMBackend):
    """One pooled sync client and one async client, closed by ``close`` / ``aclose``."""

    name = "http"

    def __init__(self, config: CRMConfig) -> None:
        if not config.base_url:
            raise ValueError("crm.base_url is required for the HTTP CRM backend")
        self.base_url = config.base_url.rstrip("/")
        self.timeout_s = config.timeout_s
        self._timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        headers = {"Accept": "application/json"}
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": headers,
            "timeout": self._timeout,
            "limits": httpx.Limits(max_connections=config.max_connections),
            "follow_redirects": False,
        }
        self._client = httpx.Client(**options)
        self._aclient = httpx.AsyncClient(**options)

    def __repr__(self) -> str:
        return f"HTTPCRMBackend(base_url={self.base_url!r})"

    def _send(
        self, method: str, path: str, tenant_id: str, body: Any, operation: str
    ) -> httpx.Response:
        try:
            return self._client.request(
                method,
                path,
                json=body,
                headers={"X-Tenant-ID": tenant_id},
                timeout=request_timeout(self._timeout),
            )
        except httpx.TransportError as exc:
            raise _transport_error(exc, operation) from None

    async def _asend(
        self, method: str, path: str, tenant_id: str, body: Any, operation: str
    ) -> httpx.Response:
        try:
            return await self._aclient.request(
                method,
                path,
                json=body,
                headers={"X-Tenant-ID": tenant_id},
                timeout=request_timeout(self._timeout),
            )
        except httpx.TransportError as exc:
            raise _transport_error(exc, operation) from None

    def find_customers(self, tenant_id: str, query: CustomerQuery, limit: int) -> list[Customer]:
        response = self._send(
            "POST", "/customers/search", tenant_id, _search_body(query, limit), "customer lookup"
        )
        return _parse_customers(response)[:limit]

    async def afind_customers(
        self, tenant_id: str, query: CustomerQuery, limit: int
    ) -> list[Customer]:
        response = await self._asend(
            "POST", "/customers/search", tenant_id, _search_body(query, limit), "customer lookup"
        )
        return _parse_customers(response)[:limit]

    def get_order(self, tenant_id: str, order_id: str) -> Order | None:
        for candidate in order_id_candidates(order_id):
            response = self._send(
                "GET", f"/orders/{quote(candidate, safe='')}", tenant_id, None, "order lookup"
            )
            order = _parse_order(response)
            if order is not None:
                return order
        return None

    async def aget_order(self, tenant_id: str, order_id: str) -> Order | None:
        for candidate in order_id_candidates(order_id):
            response = await self._asend(
                "GET", f"/orders/{quote(candidate, safe='')}", tenant_id, None, "order lookup"
            )
            order = _parse_order(response)
            if order is not None:
                return order
        return None

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await self._aclient.aclose()
        self._client.close()
