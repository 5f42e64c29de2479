"""The background service (issue 13 §1): `journeys serve`, the engine lease's keeper, the per-user
service install. No Qt: the app's window uses the same keeper (app/ui/engine_host.py)."""
