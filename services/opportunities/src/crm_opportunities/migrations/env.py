from crm_opportunities.database import Base
from crm_opportunities.models import load_all
from crm_shared.migrations import run_env

load_all()
run_env(Base.metadata)
