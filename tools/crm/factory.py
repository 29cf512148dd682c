"""Pick the CRM backend the settings ask for."""

from __future__ import annotations

from storage.engine import Database
from tools.config import CRMConfig
from tools.crm.backend import CRMBackend
from tools.crm.http_backend import HTTPCRMBackend
from tools.crm.sql_backend import SQLCRMBackend


def build_crm_backend(config: CRMConfig, database: Database) -> CRMBackend:
    if config.backend == "http":
        return HTTPCRMBackend(config)
    return SQLCRMBackend(database)
