"""CRM records (customers, orders) kept in our own database, always scoped by tenant."""

from storage.crm.loader import CRMLoadError, LoadResult, load_jsonl
from storage.crm.tables import CustomerRow, OrderRow

__all__ = ["CRMLoadError", "CustomerRow", "LoadResult", "OrderRow", "load_jsonl"]
