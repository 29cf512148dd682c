"""Human-handoff tickets with database-enforced idempotency and one active ticket per reason."""

from storage.tickets.store import (
    NewTicket,
    Ticket,
    TicketResult,
    TicketStore,
    TicketStoreError,
    new_ticket_id,
)
from storage.tickets.tables import (
    ACTIVE_STATUSES,
    TICKET_STATUSES,
    WEBHOOK_STATUSES,
    TicketEventRow,
    TicketRow,
)

__all__ = [
    "ACTIVE_STATUSES",
    "TICKET_STATUSES",
    "WEBHOOK_STATUSES",
    "NewTicket",
    "Ticket",
    "TicketEventRow",
    "TicketResult",
    "TicketRow",
    "TicketStore",
    "TicketStoreError",
    "new_ticket_id",
]
