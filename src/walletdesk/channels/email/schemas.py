"""What the API shows of an email: its original beside the visible reply on the ticket."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AuthenticationOut(BaseModel):
    spf: str | None = Field(description="SPF result from the trusted relay, if it reported one")
    dkim: str | None
    dmarc: str | None
    suspicious: bool = Field(
        description="Claims a verified customer's address but its domain did not vouch for it"
    )


class EmailOriginalOut(BaseModel):
    message_id: int = Field(description="The ticket message this email became")
    message_id_header: str
    ticket_number: str
    sender: str
    sender_name: str
    recipients: list[str]
    subject: str
    full_text: str = Field(description="The whole text, quoted history and signature included")
    full_html: str | None = Field(description="The whole HTML, sanitised")
    size: int | None
    authentication: AuthenticationOut
