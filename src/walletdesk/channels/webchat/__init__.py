"""Live chat: the embeddable widget, customer and agent websockets, queue, offline messages.

The routes are in `router` (walletdesk.channels.webchat.router), the adapter in
`adapter`; the protocol is described in docs/webchat-protocol.md.
"""
