"""The ways in: the aiohttp API, the ``payflow`` command, and the composition root."""
