"""Reports for auditors and analysts: a balance at an instant, and CSV exports."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from typing import TextIO
from uuid import UUID

from application.policy import DEFAULT_CURRENCY
from domain.errors import NotFound, WalletNotFound
from domain.ids import wallet_id_for
from interfaces.bootstrap import Container
from interfaces.http import render
from interfaces.ids import WALLET, MalformedId, parse_id
from projections import queries

CSV_COLUMNS = [
    "transactionId",
    "senderId",
    "receiverId",
    "amount",
    "currency",
    "status",
    "description",
    "failureReason",
    "initiatedAt",
    "completedAt",
]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def wallet_for(container: Container, wallet: str) -> UUID:
    """A wallet named by its id (``wallet_…``) or by its owner's handle (opens nothing)."""
    if "@" in wallet:
        user = container.payflow.accounts.user_by_vpa(wallet)
        return wallet_id_for(user.id, DEFAULT_CURRENCY)
    return parse_id(WALLET, wallet)


def balance_as_of(
    container: Container, wallet: str, moment: datetime, out: TextIO = sys.stdout
) -> int:
    try:
        wallet_id = wallet_for(container, wallet)
        balance = container.ledger.wallets.balance_at(wallet_id, moment)
    except WalletNotFound:
        print(f"payflow: {wallet} had no wallet yet at {moment.isoformat()}", file=sys.stderr)
        return 1
    except (NotFound, MalformedId) as error:
        print(f"payflow: {error}", file=sys.stderr)
        return 1
    out.write(f"{balance.currency} {balance.to_decimal():.2f} at {moment.isoformat()}\n")
    return 0


def export_transfers(
    container: Container, since: datetime | None, until: datetime | None, out: TextIO
) -> int:
    """Transfers in the window as CSV, one row each, ready for a spreadsheet."""
    container.projector.catch_up()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in queries.transfers_between(container.projector.store, since, until):
        rendered = render.transfer(row)
        writer.writerow({k: _cell(rendered[k]) for k in CSV_COLUMNS})
    return 0


def _cell(value: object) -> str:
    """Text a spreadsheet shows as written: never a formula, amounts as plain decimals."""
    if value is None:
        return ""
    text = f"{value:f}" if not isinstance(value, str | bool | int) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
