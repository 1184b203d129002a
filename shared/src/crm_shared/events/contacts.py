"""crm.contacts.v1: people, companies, roles, consent and interactions (produced by contacts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from crm_shared.events.common import (
    CONTACTS,
    Channel,
    ConsentChannel,
    ConsentPurpose,
    Direction,
    SourceRef,
)
from crm_shared.events.envelope import EventData

# --- snapshots carried by state events (consumers keep read models from them) -----------------


class ContactSnapshot(BaseModel):
    contact_id: str
    first_name: str | None
    last_name: str | None
    primary_email: str | None
    emails: list[str]
    phones: list[str]
    job_title: str | None
    language: str | None
    timezone: str | None
    country: str | None
    lifecycle_stage: str
    source: str | None
    tags: list[str]
    attributes: dict[str, object]
    owner_id: str | None
    relationship_level: str | None
    preferred_channel: str | None
    do_not_contact: bool
    company_ids: list[str]
    version: int
    updated_at: datetime


class CompanySnapshot(BaseModel):
    company_id: str
    name: str
    domain: str | None
    industry: str | None
    employee_count: int | None
    country: str | None
    parent_id: str | None
    owner_id: str | None
    relationship_level: str | None
    tags: list[str]
    external_id: str | None = None  # added later: older events lack it
    version: int
    updated_at: datetime


# --- crm.contacts.v1 -----------------------------------------------------------------------


class _ContactEvent(EventData):
    topic = CONTACTS
    key_field = "contact_id"
    contact_id: str


class ContactCreated(_ContactEvent):
    type = "crm.contact.created"
    description = "A person was created."
    contact: ContactSnapshot


class ContactUpdated(_ContactEvent):
    type = "crm.contact.updated"
    description = "A person changed; `changed` names the fields."
    contact: ContactSnapshot
    changed: list[str]


class ContactDeleted(_ContactEvent):
    type = "crm.contact.deleted"
    description = "A person was deleted (a tombstone; the row is kept for sync)."


class ContactErased(_ContactEvent):
    type = "crm.contact.erased"
    description = "GDPR erasure: every consumer must remove this person's PII."
    erased_at: datetime


class ContactMerged(_ContactEvent):
    type = "crm.contact.merged"
    description = "Duplicates were merged into the survivor `contact_id`."
    merged_ids: list[str]
    merge_id: str | None = None


class ContactUnmerged(_ContactEvent):
    type = "crm.contact.unmerged"
    description = (
        "A merge into the survivor `contact_id` was undone: the people in `restored_ids` exist "
        "again with their own roles, consents and interactions; repoint what the merge moved."
    )
    merge_id: str
    restored_ids: list[str]


class ContactOwnerChanged(_ContactEvent):
    type = "crm.contact.owner_changed"
    description = "A person's owner changed."
    previous_owner_id: str | None
    owner_id: str | None


class _RoleEvent(_ContactEvent):
    role_id: str
    company_id: str
    title: str | None
    is_primary: bool
    start_date: date | None
    end_date: date | None


class ContactRoleAdded(_RoleEvent):
    type = "crm.contact.role_added"
    description = "A person took a role in a company."


class ContactRoleUpdated(_RoleEvent):
    type = "crm.contact.role_updated"
    description = "A person's role in a company changed."


class ContactRoleRemoved(_RoleEvent):
    type = "crm.contact.role_removed"
    description = "A person's role in a company was removed."


class _CompanyEvent(EventData):
    topic = CONTACTS
    key_field = "company_id"
    company_id: str


class CompanyCreated(_CompanyEvent):
    type = "crm.company.created"
    description = "A company was created."
    company: CompanySnapshot


class CompanyUpdated(_CompanyEvent):
    type = "crm.company.updated"
    description = "A company changed; `changed` names the fields."
    company: CompanySnapshot
    changed: list[str]


class CompanyDeleted(_CompanyEvent):
    type = "crm.company.deleted"
    description = "A company was deleted."


class CompanyOwnerChanged(_CompanyEvent):
    type = "crm.company.owner_changed"
    description = "A company's owner changed."
    previous_owner_id: str | None
    owner_id: str | None


class _ConsentEvent(_ContactEvent):
    topic = CONTACTS
    channel: ConsentChannel
    purpose: ConsentPurpose
    source: str
    captured_at: datetime
    entry_id: str | None = None


class ConsentGranted(_ConsentEvent):
    type = "crm.consent.granted"
    description = "A person granted consent for a channel and purpose."


class ConsentWithdrawn(_ConsentEvent):
    type = "crm.consent.withdrawn"
    description = "A person withdrew consent for a channel and purpose."


class ConsentCorrected(_ContactEvent):
    type = "crm.consent.corrected"
    description = (
        "Consent entries published earlier were voided (a merge undone took back the entries it "
        "had copied): `status` is now the person's consent for the channel and purpose, "
        "`none` when no entry is left. Apply it whatever the times of what you hold: the voided "
        "entries may be newer than the one that counts again."
    )
    topic = CONTACTS
    channel: ConsentChannel
    purpose: ConsentPurpose
    status: Literal["granted", "withdrawn", "none"]
    captured_at: datetime | None = Field(description="Of the entry that counts now")
    voided_entry_ids: list[str]


class InteractionLogged(_ContactEvent):
    type = "crm.interaction.logged"
    description = "A touchpoint with a customer, in any channel: the omnichannel timeline's input."
    interaction_id: str
    company_id: str | None = None
    channel: Channel
    direction: Direction
    kind: str
    occurred_at: datetime
    summary: str | None = None
    actor_id: str | None = None
    source: SourceRef


EVENTS: list[type[EventData]] = [
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
    ContactErased,
    ContactMerged,
    ContactUnmerged,
    ContactOwnerChanged,
    ContactRoleAdded,
    ContactRoleUpdated,
    ContactRoleRemoved,
    CompanyCreated,
    CompanyUpdated,
    CompanyDeleted,
    CompanyOwnerChanged,
    ConsentGranted,
    ConsentWithdrawn,
    ConsentCorrected,
    InteractionLogged,
]
