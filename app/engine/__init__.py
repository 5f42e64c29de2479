"""The journey engine (no Qt): ingest, triggers, stepper, scheduler, outbox, statistics, simulator.

Entry points:
    JourneyEngine(db, clock, channel)   engine.py — ingest(events), tick(), scan(), hand_off(),
                                        activate(journey_id), stop(journey_id), next_wake()
    LiveEngine(engine, outbox=…)        scheduler.py — the APScheduler 3 driver the app runs (its outbox
                                        job: app.delivery's dispatcher, passed in; the engine knows no channel)
    SystemClock / VirtualClock          clock.py
    simulate(journey, contacts, events) simulator.py — the dry run on a virtual clock
    journey_stats(db, journey_id, start, end)   stats.py — per-node and per-journey counts
    parse_contacts / import_contacts / parse_events   importers.py — CSV and JSON lines in
    event_changes / import_changes / record   consent.py — the consent rules and their history
    HANDLERS                            handlers.py — one handler per node kind
"""
