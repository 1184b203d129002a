from crm_shared.migrations import run_env
from crm_tickets.database import Base
from crm_tickets.models import load_all

load_all()
run_env(Base.metadata)
