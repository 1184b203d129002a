"""Who may do what in the opportunities service, and which records each caller sees.

Record visibility: a `sales_rep` sees the records they own; a `sales_manager` sees the records
of every team they manage and of the teams below those (and their own); `admin`, `analyst` and
`integration` see every record of the tenant. Every list and read goes through `Visibility`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from crm_shared.auth import Principal, require_roles

READERS = ("sales_manager", "sales_rep", "analyst", "integration")
WRITERS = ("sales_manager", "sales_rep", "integration")
SEE_ALL = frozenset({"admin", "analyst", "integration"})

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Writer = Annotated[Principal, Depends(require_roles(*WRITERS))]
Manager = Annotated[Principal, Depends(require_roles("sales_manager"))]
Marketer = Annotated[Principal, Depends(require_roles("marketer", "sales_manager"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
