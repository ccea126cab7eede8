"""Each column kind's Python form and SQL form give the same field, value by value (PostgreSQL only).

For every kind, the same values go through ``Kind.compile_python`` (the standard path) and through
``SELECT <Kind.compile_sql> FROM (VALUES ...)`` on PostgreSQL (the COPY path). A NULL and an empty
text are the same field (both paths write an empty field for either).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from datapipeline.kinds import BOOLEAN, INTEGER, JSON_ARRAY, STRING, TEXT, TIMESTAMP, URL, Kind, Target
from datapipeline.registry import Column

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL forms need PostgreSQL")

ESCAPES = [None, "\\n", "<br>", "\r\n", '%s"\\', ""]
TEXTS = [
    None,
    "",
    "plain",
    "a,b",
    'say "hi"',
    "a\r\nb\rc\nd\n\r",
    "\r\n",
    "trailing\n",
    "\\.",
    "\t tabs and spaces ",
    "e\u0301a\u0308o\u0302 😀👍🏽🇩🇪",
    "x" * 200_000 + "\n" + "y" * 50,
]
ZONES = ["UTC", "Europe/Amsterdam", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe"]
TIMES = [
    None,
    datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC),  # Europe: just before DST starts
    datetime(2026, 3, 29, 1, 0, 0, 1_000, tzinfo=UTC),  # ... and just after
    datetime(2026, 10, 25, 0, 59, 59, 999_999, tzinfo=UTC),  # Europe: just before DST ends
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 5, 30, tzinfo=UTC),  # St John's: DST starts
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe: half-hour DST ends
    datetime(1920, 1, 15, 12, 0, 0, 500, tzinfo=UTC),  # Amsterdam then: +00:19:32
    datetime(1900, 1, 1, tzinfo=UTC),
    datetime(2026, 7, 1, 12, 0, 0, 123_456, tzinfo=UTC) + timedelta(microseconds=999),
]


def same_fields(
    kind: Kind, column: Column, values: list[Any], sql_type: str, encode: Any = None, **target: Any
) -> list[Any]:
    """The fields of ``values`` by both forms (``encode``: how the value is sent to PostgreSQL); asserts they are
    equal and returns them."""
    settings = {"version": 2, "escape": "\\n", "instance_url": "https://wiki.example.com", "time_zone": "UTC"}
    compiled = Target(**{**settings, **target}, sources=("pk", "v"))
    field = kind.compile_python(column, compiled)
    python = [normal(field((i, v))) for i, v in enumerate(values)]
    expression, params = kind.compile_sql(column, compiled)
    rows = ", ".join(f"({i}, %s::{sql_type})" for i in range(len(values)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ({expression})::text FROM (VALUES {rows}) AS s(c0, c1) ORDER BY c0",  # noqa: S608 - test SQL
            [*params, *(values if encode is None else [None if v is None else encode(v) for v in values])],
        )
        sql = [normal(row[0]) for row in cursor.fetchall()]
    assert sql == python
    return python


def normal(value: Any) -> str | None:
    """The field a CSV writer makes of the value (None and "" are both an empty field)."""
    return None if value is None or value == "" else str(value)


@pytest.mark.parametrize("kind", [STRING, TEXT], ids=["string", "text"])
@pytest.mark.parametrize("escape", ESCAPES, ids=repr)
@pytest.mark.parametrize("limit", [None, 1, 5, 100_000], ids=["whole", "cut-1", "cut-5", "cut-100000"])
def test_text(db, kind, escape, limit):
    column = Column("c", kind, "d", source="v", max_length={} if limit is None else {2: limit})
    fields = same_fields(kind, column, TEXTS, "text", escape=escape)
    if escape == "<br>" and limit is None:
        assert fields[5] == "a<br>b<br>c<br>d<br><br>"


def test_integer(db):
    assert same_fields(INTEGER, Column("c", INTEGER, "d", source="v"), [None, 0, -7, 2**53], "bigint") == [
        None,
        "0",
        "-7",
        str(2**53),
    ]


def test_boolean(db):
    fields = same_fields(BOOLEAN, Column("c", BOOLEAN, "d", source="v"), [None, True, False], "boolean")
    assert fields == [None, "true", "false"]


@pytest.mark.parametrize("escape", [None, "\\n"], ids=["kept", "escaped"])
def test_mapped_values_whatever_the_kind(db, escape):
    column = Column("c", STRING, "d", source="v", mapping={True: "active", False: "line\nbreak"})
    assert same_fields(STRING, column, [True, False, None], "boolean", escape=escape) == [
        "active",
        "line\nbreak",  # mapped texts are written as declared
        None,
    ]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("version", [1, 2])
def test_timestamp(db, zone, version):
    fields = same_fields(TIMESTAMP, Column("c", TIMESTAMP, "d", source="v"), TIMES, "timestamptz", version=version,
                         time_zone=zone)  # fmt: skip
    if version == 2:
        assert fields[1] == "2026-03-29T00:59:59.999Z"
    elif zone == "Europe/Amsterdam":
        assert fields[1:3] == ["2026-03-29T01:59:59.999+01:00", "2026-03-29T03:00:00.001+02:00"]
        assert fields[7] == "1920-01-15T12:19:32.000+00:19:32"


def test_json_array(db):
    values = [None, [], ["a", "b"], ['", "', "x\ny", "\u0001\u001f", "é😀", "\\"], "scalar", ["only"]]
    column = Column("c", JSON_ARRAY, "d", source="v")
    fields = same_fields(JSON_ARRAY, column, values, "jsonb", encode=json.dumps)
    assert fields[:3] == [None, None, '["a","b"]'] and fields[4] == '["scalar"]'


def test_json_values_the_sql_form_cannot_match_go_to_python(db):
    """Numbers, nested lists and objects: PostgreSQL may print them differently, so such a batch is written by
    Python (a nested list's ``], [`` once slipped through)."""
    check = JSON_ARRAY.python_only_when.format(v="c1")
    plain_or_not = [
        (["a"], False),
        ([], False),
        ("s", False),
        ([1, 2.5], True),
        ([["a"]], True),
        ([["a"], ["b"]], True),
        ({"a": 1}, True),
    ]
    rows = ", ".join(f"({i}, %s::jsonb)" for i in range(len(plain_or_not)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {check} FROM (VALUES {rows}) AS s(c0, c1) ORDER BY c0",  # noqa: S608 - test SQL
            [json.dumps(v) for v, _ in plain_or_not],
        )
        assert [r[0] for r in cursor.fetchall()] == [expected for _, expected in plain_or_not]


@pytest.mark.parametrize("escape", [None, "\\n"], ids=["kept", "escaped"])
@pytest.mark.parametrize("instance_url", ["https://wiki.example.com", "https://x.example/a\nb"], ids=["plain", "break"])
def test_url(db, escape, instance_url):
    keys = [None, "", "ENG", 'K,"Q"?#/& xÜ~%\n', "a-b_c.d~e", "😀"]
    column = Column("c", URL, "d", url="/display/{v}?x=1#{v}")
    fields = same_fields(URL, column, keys, "text", escape=escape, instance_url=instance_url)
    if instance_url.endswith(".com"):
        assert (
            fields[3]
            == "https://wiki.example.com/display/K%2C%22Q%22%3F%23%2F%26%20x%C3%9C~%25%0A?x=1#K%2C%22Q%22%3F%23%2F%26%20x%C3%9C~%25%0A"
        )
    site = Column("c", URL, "d", url="")
    assert same_fields(URL, site, [None, "x"], "text", escape=escape, instance_url=instance_url)[0] is not None
