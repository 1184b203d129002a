"""Who may read analytics: everyone who works with customers; recomputing is for analysts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from crm_shared.auth import Principal, require_roles

READERS = ("sales_manager", "sales_rep", "marketer", "agent", "analyst", "integration")

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Analyst = Annotated[Principal, Depends(require_roles("analyst", "sales_manager"))]
