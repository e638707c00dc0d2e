"""The ledger's domain: money, wallets, transfers and users.

Pure: no I/O, no clock reads outside event timestamps, no framework beyond
``eventsourcing.domain``.
"""
