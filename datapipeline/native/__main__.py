"""``python -m datapipeline.native build`` compiles the streaming Parquet writer; ``ensure`` compiles it only when
the usable one is missing (what ``make install`` runs); ``status`` says if it is usable."""

from __future__ import annotations

import sys

from . import LIBRARY, NativeWriterError, build, unavailable_reason


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "ensure":
        command = "build" if unavailable_reason() else "status"
    if command == "build":
        try:
            print(f"built {build()}")
        except (NativeWriterError, FileNotFoundError, OSError) as error:
            print(f"the streaming Parquet writer was not built: {error}", file=sys.stderr)
            print("Parquet exports still work, with pyarrow's writer and row groups bounded by bytes.", file=sys.stderr)
            return 1
        command = "status"
    if command == "status":
        reason = unavailable_reason()
        print(f"streaming Parquet writer: {'not usable: ' + reason if reason else f'ready ({LIBRARY.name})'}")
        return 1 if reason else 0
    print(f"unknown command {command!r}: use build, ensure or status", file=sys.stderr)
    return 2


sys.exit(main(sys.argv[1:]))
