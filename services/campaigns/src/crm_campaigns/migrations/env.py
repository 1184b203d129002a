from crm_campaigns.database import Base
from crm_campaigns.models import load_all
from crm_shared.migrations import run_env

load_all()
run_env(Base.metadata)
