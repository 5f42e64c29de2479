"""The HTTP receiver (issue 13 §2): live events in from shops, trackers and providers.

`server.create_app(db)` builds the Starlette app; every accepted request is written to the
database's inbox (`inbox.py`) before it is answered 2xx, and the intake job (`apply.py`) applies
what the inbox holds through the engine, exactly once. No Qt here.
"""
