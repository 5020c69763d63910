"""What stored values (statuses, roles, channels, …) are called on screen, for translation."""

from __future__ import annotations

from walletdesk.console.i18n import N_

STATUS = {
    "new": N_("New"),
    "open": N_("Open"),
    "pending": N_("Waiting on customer"),
    "on_hold": N_("On hold"),
    "solved": N_("Solved"),
    "closed": N_("Closed"),
}
PRIORITY = {
    "low": N_("Low"),
    "normal": N_("Normal"),
    "high": N_("High"),
    "urgent": N_("Urgent"),
}
CATEGORY = {
    "account_access": N_("Account access"),
    "account_frozen": N_("Account frozen"),
    "payment_failed": N_("Payment failed"),
    "transfer_refund": N_("Transfer or refund"),
    "card_binding": N_("Card binding"),
    "identity_verification": N_("Identity verification"),
    "fraud_security": N_("Fraud and security"),
    "fees": N_("Fees"),
    "complaint": N_("Complaint"),
    "other": N_("Other"),
}
# Channels that exist or are planned; a channel not listed shows under its own name.
CHANNEL = {
    "api": N_("API"),
    "webchat": N_("Web chat"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "social": N_("Social media"),
}
ROLE = {
    "agent": N_("Agent"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Administrator"),
}
TIER = {
    "1": N_("L1 · Frontline"),
    "2": N_("L2 · Technical"),
    "3": N_("L3 · Complaints"),
}
PRESENCE = {
    "online": N_("Online"),
    "away": N_("Away"),
    "offline": N_("Offline"),
}
AUTHOR = {
    "customer": N_("Customer"),
    "agent": N_("Agent"),
    "system": N_("System"),
}
DELIVERY = {
    "pending": N_("Sending"),
    "sent": N_("Sent"),
    "failed": N_("Not delivered"),
}
# core.channels.DELIVERY_REASONS: why a reply did not go out, said so an agent knows what to do.
DELIVERY_REASON = {
    "failed": N_("delivery failed"),
    "not_configured": N_("this channel is not set up on the server; tell an administrator"),
    "no_address": N_("the customer has no address on this channel; reach them another way"),
    "refused": N_("refused by the receiving side"),
    "deferred": N_("the receiving side asked us to wait; retrying"),
    "unreachable": N_("could not connect; retrying"),
    "settings": N_("the channel's settings need fixing; an administrator must act"),
    "bounced": N_("returned by the customer's mail server"),
    "gone": N_("the conversation no longer exists"),
    "internal": N_("internal error; it has been logged"),
}
IDENTITY = {
    "email": N_("Email"),
    "phone": N_("Phone"),
    "webchat": N_("Web chat visitor"),
    "wallet": N_("Wallet account"),
}
LANGUAGE = {
    "zh-CN": N_("Chinese (Simplified)"),
    "en": N_("English"),
}
AUDIT_ACTION = {
    "agent.created": N_("Agent created"),
    "agent.signed_in": N_("Signed in"),
    "agent.signed_out": N_("Signed out"),
    "agent.locale_changed": N_("Language changed"),
    "agent.totp_enabled": N_("Two-step sign-in turned on"),
    "token.created": N_("API token created"),
    "contact.viewed": N_("Customer viewed"),
    "ticket.created": N_("Ticket created"),
    "ticket.status_changed": N_("Status changed"),
    "ticket.reopened": N_("Ticket reopened"),
    "ticket.priority_changed": N_("Priority changed"),
    "ticket.category_changed": N_("Category changed"),
    "ticket.assigned": N_("Assignee changed"),
    "ticket.tags_changed": N_("Tags changed"),
    "ticket.escalated": N_("Escalated"),
    "helpcenter.article.created": N_("Help article created"),
    "helpcenter.article.updated": N_("Help article updated"),
    "helpcenter.question.added": N_("Question added to help article"),
    "helpcenter.revisions.viewed": N_("Help article history viewed"),
    "agent.deactivated": N_("Agent deactivated"),
    "email.original_viewed": N_("Original email viewed"),
    "webchat.site_created": N_("Chat site created"),
    "webchat.site_updated": N_("Chat site updated"),
    "webchat.site_deactivated": N_("Chat site turned off"),
    "webchat.site_activated": N_("Chat site turned on"),
    "webchat.site_secret_viewed": N_("Chat site secret viewed"),
    "webchat.site_secret_rotated": N_("Chat site secret rotated"),
}
# Field names in core's InvalidInput errors.
FIELD = {
    "status": N_("Status"),
    "priority": N_("Priority"),
    "category": N_("Category"),
    "assignee": N_("Assignee"),
    "tags": N_("Tags"),
    "reason": N_("Reason"),
    "body": N_("Message"),
    "email": N_("Email"),
    "name": N_("Name"),
    "role": N_("Role"),
    "tier": N_("Tier"),
    "password": N_("Password"),
    "presence": N_("Presence"),
    "cursor": N_("Page"),
    "locale": N_("Language"),
}
