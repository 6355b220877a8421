"""Import every domain's models so that Alembic sees the whole schema."""

from __future__ import annotations

from ninefold.alert import models as alert_models
from ninefold.audit import models as audit_models
from ninefold.catalog import models as catalog_models
from ninefold.db.base import Base
from ninefold.deploy import models as deploy_models
from ninefold.heartbeat import models as heartbeat_models
from ninefold.identity import models as identity_models
from ninefold.incident import models as incident_models
from ninefold.notification import models as notification_models
from ninefold.oncall import models as oncall_models
from ninefold.postmortem import models as postmortem_models
from ninefold.slo import models as slo_models
from ninefold.statuspage import models as statuspage_models
from ninefold.system import models as system_models
from ninefold.web import models as web_models

#: Every module holding ORM classes; importing them registers their tables on Base.metadata.
MODEL_MODULES = (
    alert_models,
    audit_models,
    catalog_models,
    deploy_models,
    heartbeat_models,
    identity_models,
    incident_models,
    notification_models,
    oncall_models,
    postmortem_models,
    slo_models,
    statuspage_models,
    system_models,
    web_models,
)

target_metadata = Base.metadata
