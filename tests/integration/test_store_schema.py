"""A PostgreSQL schema that is not there yet: `payflow init` makes it; a process that
must not make tables says what to do, in one line, instead of failing at every step."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG, postgres_environ, require_postgres
from tests.e2e.test_server import ROOT

pytestmark = pytest.mark.postgres
PAYFLOW = str(ROOT / ".venv" / "bin" / "payflow")


@pytest.fixture
def new_schema() -> Iterator[str]:
    """A schema name nobody has created; dropped afterwards if something created it."""
    require_postgres()
    schema = f"pf_new_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def payflow(
    tmp_path: Path, schema: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = os.environ | postgres_environ(schema) | {"PAYFLOW_STORE": "postgres"}
    environ |= {"PAYFLOW_DATA_DIR": str(tmp_path)} | env
    return subprocess.run(
        [PAYFLOW, *args], env=environ, capture_output=True, text=True, timeout=120, check=False
    )


def test_init_creates_a_schema_that_does_not_exist(tmp_path: Path, new_schema: str) -> None:
    made = payflow(tmp_path, new_schema, "init")

    assert made.returncode == 0, made.stderr
    assert "PayFlow stores are ready." in made.stdout
    with psycopg.connect(**PG) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
            (new_schema,),
        ).fetchone()
    assert found is not None
    assert found[0] > 5


def test_a_worker_before_init_says_what_to_do_and_stops(tmp_path: Path, new_schema: str) -> None:
    started = payflow(tmp_path, new_schema, "saga", PAYFLOW_CREATE_TABLES="no")

    assert started.returncode == 2
    assert "Traceback" not in started.stderr
    (said,) = [json.loads(line) for line in started.stderr.splitlines()]
    assert said["level"] == "error"
    assert "does not exist: run `payflow init` first" in said["message"]


def test_an_audit_of_a_schema_that_is_not_there_says_so_and_makes_nothing(
    tmp_path: Path, new_schema: str
) -> None:
    audited = payflow(tmp_path, new_schema, "audit")

    assert audited.returncode == 2
    assert "RESULT: OK" not in audited.stdout
    assert "run `payflow init` first" in audited.stderr
    with psycopg.connect(**PG) as conn:
        made = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
            (new_schema,),
        ).fetchone()
    assert made == (0,)


def test_an_audit_of_a_data_directory_without_payflow_data_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "no-such-dir"
    env = os.environ | {"PAYFLOW_DATA_DIR": str(empty), "PAYFLOW_STORE": "sqlite"}
    audited = subprocess.run(
        [PAYFLOW, "audit"], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert audited.returncode == 2
    assert f"no PayFlow data in {empty}" in audited.stderr
    assert not empty.exists()
