"""The email channel: receive over SMTP and IMAP, reply over SMTP, thread by number and headers.

See docs/email.md for how it works and how to run it.
"""
