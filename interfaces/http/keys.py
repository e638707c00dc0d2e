"""Typed keys for what the aiohttp application holds."""

from aiohttp import web

from interfaces.bootstrap import Container
from interfaces.http.replies import WriterReplies
from interfaces.http.waiting import TransferOutcomes

CONTAINER = web.AppKey("container", Container)
OUTCOMES = web.AppKey("transfer_outcomes", TransferOutcomes)
REPLIES = web.AppKey("writer_replies", WriterReplies)
