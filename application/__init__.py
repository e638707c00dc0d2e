"""Use cases and the transfer saga, as ``eventsourcing`` applications.

``Accounts`` holds users; ``Wallets`` and ``Transfers`` are process applications
that follow each other's notification logs and together run the saga;
``PayFlow`` is the facade the interfaces call.
"""
