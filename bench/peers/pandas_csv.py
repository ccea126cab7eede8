"""pandas ``read_sql`` in chunks over a server-side cursor (``stream_results``), each chunk appended by ``to_csv``.

Run by the peers' own virtualenv: ``python pandas_csv.py URL SQL_FILE OUT_DIR``; prints ``{"rows": N}``.
"""

import json
import sys
from pathlib import Path

import pandas
import sqlalchemy

CHUNK_ROWS = 50_000

url, sql_file, out_dir = sys.argv[1:4]
engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
rows = 0
with (
    engine.connect().execution_options(stream_results=True) as connection,
    open(Path(out_dir) / "rows.csv", "w", encoding="utf-8", newline="") as handle,
):
    for chunk in pandas.read_sql(Path(sql_file).read_text(), connection, chunksize=CHUNK_ROWS):
        chunk.to_csv(handle, header=rows == 0, index=False)
        rows += len(chunk)
print(json.dumps({"rows": rows}))
