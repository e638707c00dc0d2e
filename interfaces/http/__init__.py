"""The HTTP interface (aiohttp): commands and queries on separate route modules."""
