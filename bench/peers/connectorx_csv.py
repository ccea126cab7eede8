"""ConnectorX reads the whole SELECT into an Arrow table; pyarrow's CSV writer writes it to a file.

Run by the peers' own virtualenv: ``python connectorx_csv.py URL SQL_FILE OUT_DIR``; prints ``{"rows": N}``.
"""

import json
import sys
from pathlib import Path

import connectorx
import pyarrow.csv

url, sql_file, out_dir = sys.argv[1:4]
table = connectorx.read_sql(url, Path(sql_file).read_text(), return_type="arrow")
pyarrow.csv.write_csv(table, str(Path(out_dir) / "rows.csv"))
print(json.dumps({"rows": table.num_rows}))
