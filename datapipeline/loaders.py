"""The loader kit: ready-to-run snippets that load a job's files into DuckDB, Spark, Hive, pandas and Power BI.

``loader_files(kit)`` returns the files of a job's ``loaders/`` directory (name -> text) from a
neutral description of the job (``LoaderKit``): its format, schema version, CSV dialect and, per
dataset, the file name and ``(column name, logical type)`` pairs (logical types as in
``parquetfile.ARROW_TYPES``). ``loader_reference_markdown(kit)`` gives the same snippets as
Markdown for the schema reference; ``write_loader_files`` writes them beside the job's files.

What each reader gets back:

- Parquet: every value exactly and typed (int64, timestamp UTC in microseconds, boolean, text,
  list of text); Hive and Spark read ``list<string>`` as ``ARRAY<STRING>``.
- CSV (RFC 4180, UTF-8, CRLF, header, an empty field is null, so an empty text or list reads as
  null): integers and booleans (``true``/``false``) typed; times as timestamps with time zone
  (version 2 writes UTC with ``Z``, version 1 local time with its offset; both read as the same
  instant, to the millisecond); label lists, written as JSON text, are parsed into lists by DuckDB,
  Spark, pandas and Power BI. Hive's OpenCSVSerde reads every column as text: ``hive.sql`` adds a
  typed view (times of version 1 and label lists stay text there), and it cannot read line breaks
  inside values, so export CSV for Hive with line breaks escaped (the default). Spark's CSV reader
  turns a CRLF inside a value into LF.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .safefiles import make_job_dir, open_new_file

FORMATS = ("csv", "parquet")
LOADER_DIRECTORY = "loaders"
# Every reader's type for each logical type: the one table the generators below read.
READER_TYPES: dict[str, dict[str, str]] = {
    "int64": {
        "duckdb": "BIGINT",
        "spark": "LongType()",
        "hive": "BIGINT",
        "pandas": "Int64",
        "m": "Int64.Type",
    },
    "timestamp_us_utc": {
        "duckdb": "TIMESTAMP WITH TIME ZONE",
        "spark": "TimestampType()",
        "hive": "TIMESTAMP",
        "pandas": "datetime64[us, UTC]",
        "m": "type datetimezone",
    },
    "boolean": {
        "duckdb": "BOOLEAN",
        "spark": "BooleanType()",
        "hive": "BOOLEAN",
        "pandas": "boolean",
        "m": "type logical",
    },
    "string": {"duckdb": "VARCHAR", "spark": "StringType()", "hive": "STRING", "pandas": "string", "m": "type text"},
    "list<string>": {
        "duckdb": "VARCHAR[]",
        "spark": "ArrayType(StringType())",
        "hive": "ARRAY<STRING>",
        "pandas": "object",
        "m": "type list",
    },
}
# Java's pattern for the CSV times: 2026-01-31T12:00:00.000Z (version 2) and ...000-03:30 (version 1).
SPARK_TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"


@dataclass(frozen=True)
class LoaderDataset:
    """One file of the job: the dataset's name (the table), the file's name and its typed columns."""

    name: str
    file_name: str
    columns: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        for column, logical in self.columns:
            if logical not in READER_TYPES:
                raise ValueError(f"Column {column} of {self.name} has the unknown type {logical!r}.")


@dataclass(frozen=True)
class LoaderKit:
    """What the loaders need to know about a job's files."""

    format: str  # csv | parquet
    schema_version: int
    datasets: tuple[LoaderDataset, ...]
    preserve_line_breaks: bool = False
    line_break_escape: str = "\\n"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"The format must be csv or parquet, not {self.format!r}.")

    @property
    def csv(self) -> bool:
        return self.format == "csv"

    def about(self, comment: str) -> str:
        """A header comment stating what the files are, with ``comment`` as the line prefix."""
        lines = [f"Loads the {self.format.upper()} files of one export (schema version {self.schema_version})."]
        if self.csv:
            if self.preserve_line_breaks:
                lines.append("Line breaks inside values are kept as they were.")
            else:
                lines.append(
                    f"Line breaks inside values were replaced with the text {self.line_break_escape} by the export."
                )
            lines.append("An empty field is null: empty texts and empty label lists read as null.")
        else:
            lines.append("Values are exact and typed: no line-break escaping, no truncation.")
        return "".join(f"{comment} {line}\n" for line in lines)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _backquoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _m_string(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _m_name(name: str) -> str:
    return "#" + _m_string(name)


def duckdb_sql(kit: LoaderKit) -> str:
    out = [kit.about("--"), "-- Run from the job directory: duckdb my.db < loaders/duckdb.sql\n"]
    for ds in kit.datasets:
        if kit.csv:
            columns = ", ".join(
                f"{_sql_string(name)}: {_sql_string('VARCHAR' if logical == 'list<string>' else _duck(logical))}"
                for name, logical in ds.columns
            )
            source = (
                f"read_csv({_sql_string(ds.file_name)}, header = true, delim = ',', quote = '\"', escape = '\"', "
                f"encoding = 'utf-8', auto_detect = false, columns = {{{columns}}})"
            )
            select = ", ".join(
                f"from_json({_quoted(n)}, '[\"VARCHAR\"]') AS {_quoted(n)}" if t == "list<string>" else _quoted(n)
                for n, t in ds.columns
            )
        else:
            source = f"read_parquet({_sql_string(ds.file_name)})"
            select = ", ".join(f"CAST({_quoted(n)} AS {_duck(t)}) AS {_quoted(n)}" for n, t in ds.columns)
        out.append(f"CREATE OR REPLACE TABLE {_quoted(ds.name)} AS\nSELECT {select}\nFROM {source};\n")
    return "\n".join(out)


def _duck(logical: str) -> str:
    return READER_TYPES[logical]["duckdb"]


def spark_py(kit: LoaderKit) -> str:
    schemas = []
    for ds in kit.datasets:
        fields = "".join(
            f"            StructField({name!r}, {_spark_read_type(kit, logical)}, True),\n"
            for name, logical in ds.columns
        )
        lists = [name for name, logical in ds.columns if logical == "list<string>"] if kit.csv else []
        schemas.append(f"    {ds.name!r}: ({ds.file_name!r}, StructType([\n{fields}        ]), {lists!r}),\n")
    if kit.csv:
        reader = (
            "        reader = spark.read.schema(schema).options(\n"
            '            header="true", multiLine="true", quote=\'"\', escape=\'"\', encoding="UTF-8",\n'
            f'            timestampFormat="{SPARK_TIMESTAMP_FORMAT}", mode="FAILFAST",\n'
            "        )\n"
            "        frame = reader.csv(os.path.join(directory, file_name))\n"
            "        for name in json_lists:  # label lists are JSON text in CSV\n"
            "            frame = frame.withColumn(name, from_json(name, ArrayType(StringType())))\n"
        )
    else:
        reader = "        frame = spark.read.schema(schema).parquet(os.path.join(directory, file_name))\n"
    return (
        '"""Spark / Databricks: ``load(spark)`` returns a DataFrame per dataset, with explicit types."""\n\n'
        + kit.about("#")
        + "\n"
        "import os\n\n"
        "from pyspark.sql.functions import from_json\n"
        "from pyspark.sql.types import (\n    ArrayType, BooleanType, LongType, StringType, StructField, StructType, "
        "TimestampType,\n)\n\n"
        "# The job directory: the files are beside this loaders/ directory (pass another on Databricks).\n"
        "JOB_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n\n"
        "DATASETS = {\n" + "".join(schemas) + "}\n\n\n"
        "def load(spark, directory=JOB_DIRECTORY):\n"
        '    """A DataFrame per dataset, read with explicit schemas."""\n'
        "    frames = {}\n"
        "    for dataset, (file_name, schema, json_lists) in DATASETS.items():\n"
        + reader
        + "        frames[dataset] = frame\n"
        "    return frames\n"
    )


def _spark_read_type(kit: LoaderKit, logical: str) -> str:
    return "StringType()" if kit.csv and logical == "list<string>" else READER_TYPES[logical]["spark"]


def hive_sql(kit: LoaderKit) -> str:
    out = [kit.about("--")]
    if kit.csv:
        out.append(
            "-- OpenCSVSerde reads every column as STRING; each typed view converts them (an empty field -> NULL).\n"
            "-- It cannot read line breaks inside values: use files exported with line breaks escaped.\n"
            "-- escapeChar is U+0000, which text never holds: OpenCSVSerde's default (a backslash) drops backslashes.\n"
        )
    out.append("-- Each LOCATION is a directory holding that dataset's file only.\n")
    for ds in kit.datasets:
        raw = f"{ds.name}_csv" if kit.csv else ds.name
        if kit.csv:
            columns = ",\n".join(f"  {_backquoted(n)} STRING" for n, _ in ds.columns)
            storage = (
                "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'\n"
                "WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '\"', 'escapeChar' = '\\u0000')\n"
                "STORED AS TEXTFILE\n"
            )
            properties = "TBLPROPERTIES ('skip.header.line.count' = '1')"
        else:
            columns = ",\n".join(f"  {_backquoted(n)} {READER_TYPES[t]['hive']}" for n, t in ds.columns)
            storage = "STORED AS PARQUET\n"
            properties = ""
        out.append(
            f"-- {ds.file_name}\nCREATE EXTERNAL TABLE {_backquoted(raw)} (\n{columns}\n)\n{storage}"
            f"LOCATION '<fill in: the directory of {ds.file_name}>'" + (f"\n{properties}" if properties else "") + ";\n"
        )
        if kit.csv:
            select = ",\n".join(f"  {_hive_typed(kit, n, t)} AS {_backquoted(n)}" for n, t in ds.columns)
            # Spark's Hive support ignores skip.header.line.count: the view drops the header row itself.
            first = _backquoted(ds.columns[0][0])
            header = f"WHERE coalesce({first}, '') <> {_sql_string(ds.columns[0][0])}"
            out.append(f"CREATE VIEW {_backquoted(ds.name)} AS SELECT\n{select}\nFROM {_backquoted(raw)}\n{header};\n")
    return "\n".join(out)


def _hive_typed(kit: LoaderKit, name: str, logical: str) -> str:
    value = f"NULLIF({_backquoted(name)}, '')"
    if logical in ("int64", "boolean"):
        return f"CAST({value} AS {READER_TYPES[logical]['hive']})"
    if logical == "timestamp_us_utc" and kit.schema_version >= 2:
        # 2026-01-31T12:00:00.000Z -> the UTC time 2026-01-31 12:00:00.000
        return f"CAST(regexp_replace(substr({value}, 1, 23), 'T', ' ') AS TIMESTAMP)"
    return value  # text; version 1 times (local with offset) and JSON label lists stay text


def pandas_py(kit: LoaderKit) -> str:
    datasets = []
    for ds in kit.datasets:
        dtypes = "".join(f"        {n!r}: {READER_TYPES[t]['pandas']!r},\n" for n, t in ds.columns)
        datasets.append(f"    {ds.name!r}: ({ds.file_name!r}, {{\n{dtypes}    }}),\n")
    if kit.csv:
        body = (
            "        text = {c: ('string' if t in TYPED_LATER else t) for c, t in dtypes.items()}\n"
            "        frame = pd.read_csv(\n"
            "            os.path.join(directory, file_name), dtype=text, encoding='utf-8', keep_default_na=False,\n"
            "            na_values=[''], true_values=['true', 'True'], false_values=['false', 'False'],\n"
            "        )\n"
            "        for column, dtype in dtypes.items():\n"
            "            if dtype == 'object':  # label lists: JSON text\n"
            "                frame[column] = frame[column].map(json.loads, na_action='ignore').astype(object)\n"
            "            elif dtype.startswith('datetime64'):\n"
            "                times = pd.to_datetime(frame[column], format='ISO8601', utc=True)\n"
            "                frame[column] = times.astype(dtype)\n"
        )
        imports = "import json\nimport os\n\nimport pandas as pd\n"
        constants = "TYPED_LATER = {'object', 'datetime64[us, UTC]'}\n"
    else:
        body = (
            "        table = pq.read_table(os.path.join(directory, file_name))\n"
            "        frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): "
            "pd.BooleanDtype(), pa.string(): pd.StringDtype()}.get)\n"
            "        frame = frame.astype(dtypes)\n"
            "        for column, dtype in dtypes.items():\n"
            "            if dtype == 'object':  # label lists: pyarrow gives arrays\n"
            "                frame[column] = frame[column].map(list, na_action='ignore').astype(object)\n"
        )
        imports = "import os\n\nimport pandas as pd\nimport pyarrow as pa\nimport pyarrow.parquet as pq\n"
        constants = ""
    return (
        '"""pandas: ``load()`` returns a DataFrame per dataset, with explicit dtypes."""\n\n'
        + kit.about("#")
        + "\n"
        + imports
        + "\n# The job directory: the files are beside this loaders/ directory.\n"
        "JOB_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
        + constants
        + "\nDATASETS = {\n"
        + "".join(datasets)
        + "}\n\n\n"
        "def load(directory=JOB_DIRECTORY):\n"
        '    """A DataFrame per dataset, with explicit dtypes."""\n'
        "    frames = {}\n"
        "    for dataset, (file_name, dtypes) in DATASETS.items():\n" + body + "        frames[dataset] = frame\n"
        "    return frames\n"
    )


def powerbi_pq(kit: LoaderKit) -> str:
    out = [
        kit.about("//"),
        "// Power Query (M): one query per dataset. Set JobDirectory to the job's directory, ending with \\.\n",
        "section DataPipeline;\n",
        'shared JobDirectory = "<fill in: the job directory>\\";\n',
    ]
    for ds in kit.datasets:
        path = f"JobDirectory & {_m_string(ds.file_name)}"
        if kit.csv:
            source = (
                f"    Source = Csv.Document(File.Contents({path}), "
                '[Delimiter = ",", Encoding = 65001, QuoteStyle = QuoteStyle.Csv]),\n'
                "    Promoted = Table.PromoteHeaders(Source, [PromoteAllScalars = false]),\n"
                '    Nulls = Table.ReplaceValue(Promoted, "", null, Replacer.ReplaceValue, '
                "Table.ColumnNames(Promoted)),\n"
            )
            previous = "Nulls"  # an empty field is null
        else:
            source = f"    Source = Parquet.Document(File.Contents({path})),\n"
            previous = "Source"
        scalar = [(n, t) for n, t in ds.columns if not (kit.csv and t == "list<string>")]
        types = ", ".join(f"{{{_m_string(n)}, {READER_TYPES[t]['m']}}}" for n, t in scalar)
        steps = source + f'    Typed = Table.TransformColumnTypes({previous}, {{{types}}}, "en-US")'
        result = "Typed"
        lists = [n for n, t in ds.columns if kit.csv and t == "list<string>"]
        if lists:
            parsed = ", ".join(
                f"{{{_m_string(n)}, each if _ = null then null else Json.Document(_), type list}}" for n in lists
            )
            steps += f",\n    Lists = Table.TransformColumns(Typed, {{{parsed}}})"
            result = "Lists"
        out.append(f"shared {_m_name(ds.name)} = let\n{steps}\nin\n    {result};\n")
    return "\n".join(out)


GENERATORS = {
    "duckdb.sql": duckdb_sql,
    "spark.py": spark_py,
    "hive.sql": hive_sql,
    "pandas.py": pandas_py,
    "powerbi.pq": powerbi_pq,
}
TITLES = {
    "duckdb.sql": ("DuckDB", "sql"),
    "spark.py": ("Spark / Databricks", "python"),
    "hive.sql": ("Hive", "sql"),
    "pandas.py": ("pandas", "python"),
    "powerbi.pq": ("Power BI (Power Query M)", "powerquery"),
}


def loader_files(kit: LoaderKit) -> dict[str, str]:
    """The files of ``loaders/`` for ``kit``: file name -> text."""
    return {name: generate(kit) for name, generate in GENERATORS.items()}


def loader_reference_markdown(kit: LoaderKit, *, heading_level: int = 3) -> str:
    """The same snippets as Markdown sections, one per reader, for the schema reference."""
    marks = "#" * heading_level
    sections = []
    for name, text in loader_files(kit).items():
        title, language = TITLES[name]
        sections.append(f"{marks} {title} (`loaders/{name}`)\n\n```{language}\n{text.rstrip()}\n```\n")
    return "\n".join(sections)


def write_loader_files(
    job_directory: Path, kit: LoaderKit, *, dir_mode: int = 0o700, file_mode: int = 0o600
) -> list[Path]:
    """Create ``job_directory/loaders`` fresh and write the kit into it; returns the files' paths."""
    directory = make_job_dir(job_directory, LOADER_DIRECTORY, mode=dir_mode)  # refuses anything already there
    paths = []
    for name, text in loader_files(kit).items():
        path = directory / name
        with os.fdopen(open_new_file(path, file_mode), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        paths.append(path)
    return paths


def kit_for(
    *,
    file_format: str,
    schema_version: int,
    datasets: Sequence[tuple[str, str, Sequence[tuple[str, str]]]],
    preserve_line_breaks: bool = False,
    line_break_escape: str = "\\n",
) -> LoaderKit:
    """A ``LoaderKit`` from plain tuples: ``(dataset name, file name, [(column, logical type), ...])``."""
    return LoaderKit(
        format=file_format,
        schema_version=schema_version,
        datasets=tuple(LoaderDataset(name, file_name, tuple(columns)) for name, file_name, columns in datasets),
        preserve_line_breaks=preserve_line_breaks,
        line_break_escape=line_break_escape,
    )
