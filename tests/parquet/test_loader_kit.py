"""The loader kit's files: written fresh and private, described in Markdown, refused for unknown types or formats."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from datapipeline.loaders import (
    READER_TYPES,
    LoaderDataset,
    kit_for,
    loader_files,
    loader_reference_markdown,
    write_loader_files,
)
from datapipeline.parquetfile import ARROW_TYPES
from datapipeline.safefiles import UnsafeExportDirectory

from .hostile import Export

FILES = ["duckdb.sql", "hive.sql", "pandas.py", "powerbi.pq", "spark.py"]


def test_the_kit_is_written_into_a_fresh_private_loaders_directory(tmp_path: Path):
    paths = write_loader_files(tmp_path, Export("parquet").kit())
    assert sorted(p.name for p in paths) == FILES
    assert stat.S_IMODE((tmp_path / "loaders").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths} == {0o600}
    assert {p.read_text() for p in paths} == set(loader_files(Export("parquet").kit()).values())


@pytest.mark.parametrize("planted", ["directory", "symlink"])
def test_a_loaders_directory_already_there_is_refused(tmp_path: Path, planted: str):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if planted == "directory":
        (tmp_path / "loaders").mkdir()
    else:
        (tmp_path / "loaders").symlink_to(elsewhere)
    with pytest.raises(UnsafeExportDirectory):
        write_loader_files(tmp_path, Export("csv").kit())
    assert list(elsewhere.iterdir()) == []


def test_group_readable_modes(tmp_path: Path):
    paths = write_loader_files(tmp_path, Export("csv").kit(), dir_mode=0o750, file_mode=0o640)
    assert stat.S_IMODE((tmp_path / "loaders").stat().st_mode) == 0o750
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths} == {0o640}


@pytest.mark.parametrize("how", [Export("csv", version=1), Export("csv", preserve=False), Export("parquet")])
def test_the_reference_markdown_holds_every_snippet(how: Export):
    kit = how.kit()
    markdown = loader_reference_markdown(kit)
    for name, text in loader_files(kit).items():
        assert f"(`loaders/{name}`)" in markdown
        assert text.rstrip() in markdown
    assert markdown.count("```") == 2 * len(FILES)
    assert markdown.startswith("### DuckDB")
    assert loader_reference_markdown(kit, heading_level=4).startswith("#### DuckDB")


def test_the_header_says_what_the_files_hold():
    escaped = loader_files(kit_for(file_format="csv", schema_version=2, datasets=[], line_break_escape="<br>"))
    assert "replaced with the text <br>" in escaped["duckdb.sql"]
    preserved = loader_files(kit_for(file_format="csv", schema_version=1, datasets=[], preserve_line_breaks=True))
    assert "schema version 1" in preserved["spark.py"]
    assert "kept as they were" in preserved["pandas.py"]
    assert "no line-break escaping, no truncation" in loader_files(Export("parquet").kit())["hive.sql"]


def test_the_python_loaders_compile():
    for how in (Export("csv"), Export("parquet")):
        for name in ("spark.py", "pandas.py"):
            compile(loader_files(how.kit())[name], name, "exec")


def test_unknown_types_and_formats_are_refused():
    with pytest.raises(ValueError, match="unknown type 'decimal'"):
        LoaderDataset("pages", "pages.csv", (("page_id", "decimal"),))
    with pytest.raises(ValueError, match="csv or parquet"):
        kit_for(file_format="orc", schema_version=2, datasets=[])


def test_every_logical_type_has_a_type_for_every_reader():
    assert set(READER_TYPES) == set(ARROW_TYPES)
    assert all(set(types) == {"duckdb", "spark", "hive", "pandas", "m"} for types in READER_TYPES.values())


def test_names_are_quoted_for_each_language():
    kit = kit_for(
        file_format="parquet",
        schema_version=2,
        datasets=[("it's", 'we"ird.parquet', [("col`x", "string")])],
    )
    files = loader_files(kit)
    assert "read_parquet('we\"ird.parquet')" in files["duckdb.sql"]
    assert 'CREATE OR REPLACE TABLE "it\'s"' in files["duckdb.sql"]
    assert "`col``x` STRING" in files["hive.sql"]
    assert 'shared #"it\'s" = let' in files["powerbi.pq"]
    assert 'JobDirectory & "we""ird.parquet"' in files["powerbi.pq"]
