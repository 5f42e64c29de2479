"""Pull connectors: a shop's orders, customers and checkouts polled from its API, no public URL needed.

- shopify.py: the GraphQL Admin API (a custom app's Admin API token), cost-based rate limit.
- woocommerce.py: the REST API v3 (consumer key and secret), `modified_after`, pages.
- records.py: what both turn their items into (a person, an event, traits, consent).
- apply.py: one page applied in one transaction with the cursor that covers it.
- poller.py: one poll of a connection, page after page; history on the first connection.
- store.py / secrets.py: the connections in the database, their secrets in the keyring.
- jobs.py: `connector_jobs(db)` for the live engine's scheduler (the service and the app).

No Qt here (app/ui/connections_page.py is the Settings page).
"""
