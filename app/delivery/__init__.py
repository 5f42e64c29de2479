"""Delivery: the channels that really send (SMTP email, Twilio SMS/WhatsApp, Meta WhatsApp Cloud API),
their settings and secrets, the outbox dispatcher, and the statuses that come back (status polling,
the IMAP mailbox). No Qt: the app, the CLI and the service use it alike."""
