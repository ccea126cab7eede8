"""Field formatting and the CSV writer, byte for byte (the contract a faster implementation must keep)."""

from __future__ import annotations

import hashlib
import stat
from datetime import UTC, datetime, timedelta, timezone

import pytest

from datapipeline.csvfile import CsvFileWriter
from datapipeline.formatting import escape_line_breaks, format_json_array, format_utc, make_local_formatter


def test_utc_times_to_the_millisecond_with_z():
    assert format_utc(datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    assert format_utc(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-02T01:04:05.000Z"
    assert format_utc(None) is None


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", "2026-07-01T12:00:00.250+00:00"),
        ("Europe/Berlin", "2026-07-01T14:00:00.250+02:00"),
        ("America/St_Johns", "2026-07-01T09:30:00.250-02:30"),
        ("Asia/Kathmandu", "2026-07-01T17:45:00.250+05:45"),
    ],
)
def test_version_1_times_in_the_server_zone_with_its_offset(settings, zone, expected):
    settings.TIME_ZONE = zone
    assert make_local_formatter()(datetime(2026, 7, 1, 12, 0, 0, 250_000, tzinfo=UTC)) == expected


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a\r\nb", "a\\nb"),
        ("a\rb", "a\\nb"),
        ("a\nb", "a\\nb"),
        ("a\n\rb", "a\\n\\nb"),  # LF then CR: two breaks
        ("\r\n\r\n", "\\n\\n"),
        ("tab\tstays", "tab\tstays"),
    ],
)
def test_line_breaks_escaped(text, escaped):
    assert escape_line_breaks(text, "\\n") == escaped
    assert escape_line_breaks(text, "") == escaped.replace("\\n", "")


def test_json_arrays():
    assert format_json_array([]) is None  # an empty collection is an empty cell
    assert format_json_array(()) is None
    assert format_json_array(["a", "b,c", 'q"', "ü😀", "x\ny"]) == '["a","b,c","q\\"","ü😀","x\\ny"]'
    assert format_json_array(None) is None
    assert format_json_array("solo") == '["solo"]'


def test_csv_writer_bytes_mode_and_checksum(tmp_path):
    path = tmp_path / "t.csv"
    with CsvFileWriter(path, ["a", "b", "c"]) as writer:
        assert not path.exists() and (tmp_path / ".t.csv.partial").exists()
        writer.write_rows([[1, None, "plain"], ['say "hi"', "x,y", "line\r\nbreak"], ["", " sp ", "é😀"]])
        writer.commit()
    data = path.read_bytes()
    assert data == ('a,b,c\r\n1,,plain\r\n"say ""hi""","x,y","line\r\nbreak"\r\n, sp ,é😀\r\n'.encode())
    assert writer.bytes == len(data)
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (tmp_path / ".t.csv.partial").exists()


def test_csv_writer_removes_the_partial_file_when_not_committed(tmp_path):
    with pytest.raises(RuntimeError), CsvFileWriter(tmp_path / "t.csv", ["a"]) as writer:
        writer.write_rows([["x"]])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
