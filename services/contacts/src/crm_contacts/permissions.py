"""Who may do what in the contacts service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from crm_shared.auth import Principal, require_roles

READERS = ("sales_manager", "sales_rep", "marketer", "agent", "analyst", "integration")
WRITERS = ("sales_manager", "sales_rep", "marketer", "agent", "integration")

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Writer = Annotated[Principal, Depends(require_roles(*WRITERS))]
Manager = Annotated[Principal, Depends(require_roles("sales_manager"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
