"""Escalation to a human: the ``escalate_to_human`` tool, its service, and the detector."""

from tools.escalation.detector import (
    EscalationDetector,
    Signal,
    SignalKind,
    detect_escalation,
    detector_for,
)
from tools.escalation.phrasing import is_small_talk
from tools.escalation.service import (
    TICKET_REASONS,
    EscalationRequest,
    EscalationService,
    TicketReason,
    handoff_packet,
)
from tools.escalation.tool import EscalateInput, EscalationTool, build_escalation_tool
from tools.escalation.webhook import SIGNATURE_HEADER, TicketWebhook, sign

__all__ = [
    "SIGNATURE_HEADER",
    "TICKET_REASONS",
    "EscalateInput",
    "EscalationDetector",
    "EscalationRequest",
    "EscalationService",
    "EscalationTool",
    "Signal",
    "SignalKind",
    "TicketReason",
    "TicketWebhook",
    "build_escalation_tool",
    "detect_escalation",
    "detector_for",
    "handoff_packet",
    "is_small_talk",
    "sign",
]
