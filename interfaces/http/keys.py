"""Typed keys for what the aiohttp application holds."""

from aiohttp import web

from interfaces.bootstrap import Container

CONTAINER = web.AppKey("container", Container)
