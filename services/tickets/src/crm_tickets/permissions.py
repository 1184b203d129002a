"""Who may do what in the tickets service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from crm_shared.auth import Principal, require_roles

SUPERVISORS = ("admin", "support_manager")
READERS = (*SUPERVISORS, "agent", "analyst", "integration")
WRITERS = (*SUPERVISORS, "agent", "integration")

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Writer = Annotated[Principal, Depends(require_roles(*WRITERS))]
Supervisor = Annotated[Principal, Depends(require_roles(*SUPERVISORS))]
Intake = Annotated[Principal, Depends(require_roles(*SUPERVISORS, "integration"))]


def sees_everything(principal: Principal) -> bool:
    """Admins, support managers, analysts and integrations see every ticket; agents only
    those of their queues and those assigned to them."""
    return principal.has_any(*SUPERVISORS, "analyst", "integration")
