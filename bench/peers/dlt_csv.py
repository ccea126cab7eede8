"""dlt's ``sql_table`` (pyarrow backend) of the entity's table, its query replaced by the SELECT, into a filesystem CSV.

Run by the peers' own virtualenv: ``python dlt_csv.py URL SQL_FILE OUT_DIR TABLE``; prints ``{"rows": N}``.
The CSV files land under ``OUT_DIR/files``, uncompressed; dlt's own state stays in ``OUT_DIR/state``.
"""

import json
import os
import sys
from pathlib import Path

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
os.environ["DATA_WRITER__DISABLE_COMPRESSION"] = "true"

import dlt  # after the environment above: dlt reads its configuration from it
import sqlalchemy
from dlt.sources.sql_database import sql_table

CHUNK_ROWS = 50_000


def unbind_table_columns(table: sqlalchemy.Table) -> None:
    """The SELECT replaces the table's columns: none of the reflected ones is required (or a key)."""
    for column in table.columns:
        column.nullable = True
        column.primary_key = False


url, sql_file, out_dir, table = sys.argv[1:5]
sql = Path(sql_file).read_text()
source = sql_table(
    credentials=url.replace("postgresql://", "postgresql+psycopg2://", 1),
    table=table,
    backend="pyarrow",
    chunk_size=CHUNK_ROWS,
    reflection_level="minimal",
    table_adapter_callback=unbind_table_columns,
    query_adapter_callback=lambda query, table: sqlalchemy.text(sql),
)
pipeline = dlt.pipeline(
    pipeline_name="dp_bench_peer",
    destination=dlt.destinations.filesystem(bucket_url=(Path(out_dir) / "files").as_uri()),
    dataset_name="peer",
    pipelines_dir=str(Path(out_dir) / "state"),
)
pipeline.run(source, loader_file_format="csv")
rows = pipeline.last_trace.last_normalize_info.row_counts.get(table, 0)
print(json.dumps({"rows": rows}))
