"""Who may do what in the campaigns service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from crm_shared.auth import Principal, require_roles

READERS = ("marketer", "sales_manager", "analyst", "sales_rep", "integration")
WRITERS = ("marketer", "sales_manager")
CALLBACKS = ("marketer", "integration")  # delivery providers post touches as `integration`

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Writer = Annotated[Principal, Depends(require_roles(*WRITERS))]
Callback = Annotated[Principal, Depends(require_roles(*CALLBACKS))]
