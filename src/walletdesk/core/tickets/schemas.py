"""The REST API's shapes for tickets and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from walletdesk.core.contacts.identities import normalize_phone
from walletdesk.core.errors import InvalidInput
from walletdesk.core.text import check_storable
from walletdesk.core.tickets.models import Category, Priority, Status
from walletdesk.db import MAX_INT_ID

MAX_BODY_CHARS = 20_000

Body = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_BODY_CHARS),
    AfterValidator(check_storable),
]
Storable = AfterValidator(check_storable)


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    phone: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), Storable] | None
    ) = None
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), Storable] | None
    ) = None

    @field_validator("phone")
    @classmethod
    def _possible_phone(cls, value: str | None) -> str | None:
        # Checked here, not first in ingest, so that the error names `customer.phone`.
        if value:
            try:
                normalize_phone(value)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _needs_a_way_to_reach(self) -> CustomerIn:
        if not self.email and not self.phone:
            raise ValueError("give the customer's email or phone")
        return self


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), Storable
    ]
    body: Body
    customer: CustomerIn
    category: Category = Category.OTHER
    priority: Priority = Priority.NORMAL
    locale: Annotated[str, StringConstraints(pattern=r"^(zh-CN|en)$")] | None = None


class TicketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    priority: Priority | None = None
    category: Category | None = None
    assignee_id: int | None = Field(
        default=None, ge=1, le=MAX_INT_ID, description="An agent id, or null to unassign"
    )
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=50), Storable]] | None = (
        Field(default=None, max_length=20)
    )


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Body
    internal: bool = False
    status: Status | None = Field(default=None, description="Status to set with this reply")


class MessageForm(BaseModel):
    """The multipart variant of MessageCreate, for a reply or note with files."""

    body: Body
    internal: bool = False
    status: Status | None = Field(default=None, description="Status to set with this reply")
    files: list[bytes] = Field(
        default=[], description="The files, one `files` part each (a part's filename is kept)"
    )


class EscalateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), Storable
    ]


class AttachmentOut(BaseModel):
    """A file of a message. `url` downloads it (add `?inline=true` to view a raster image)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str = Field(description="What the content is (sniffed), not what was declared")
    size: int = Field(description="Bytes")
    inline: bool = Field(description="Shown inside the message (an email's cid: image)")
    url: str


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_kind: str
    agent_id: int | None
    contact_id: int | None
    channel: str
    internal: bool
    body_text: str
    sender_mismatch: bool
    delivery_status: str | None
    delivery_error: str | None = Field(
        description="What the platform or relay said when delivery failed (its own words)"
    )
    delivery_reason: str | None = Field(
        default=None,
        description="Why delivery failed: not_configured, no_address, refused, deferred, "
        "unreachable, settings, bounced, gone, internal or failed",
    )
    created_at: datetime
    attachments: list[AttachmentOut] = []


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    subject: str
    status: Status
    priority: Priority
    category: Category
    tier: int
    team_id: int | None
    assignee_id: int | None
    contact_id: int
    channel: str
    locale: str | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    solved_at: datetime | None
    tags: list[str] = []


class TicketDetail(TicketOut):
    messages: list[MessageOut]


class TicketPage(BaseModel):
    tickets: list[TicketOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )
