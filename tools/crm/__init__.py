"""CRM tools (``lookup_customer``, ``get_order``) over an SQL or HTTP backend."""

from tools.crm.backend import CRMBackend, CustomerQuery
from tools.crm.factory import build_crm_backend
from tools.crm.http_backend import HTTPCRMBackend
from tools.crm.models import Customer, CustomerView, Order, OrderView, mask_reference
from tools.crm.service import CRMService
from tools.crm.sql_backend import SQLCRMBackend
from tools.crm.tools import CRMTools, build_crm_tools

__all__ = [
    "CRMBackend",
    "CRMService",
    "CRMTools",
    "Customer",
    "CustomerQuery",
    "CustomerView",
    "HTTPCRMBackend",
    "Order",
    "OrderView",
    "SQLCRMBackend",
    "build_crm_backend",
    "build_crm_tools",
    "mask_reference",
]
