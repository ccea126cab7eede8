"""Show the current (or last) export, or the history of exports, newest first."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.selectors import job_current_or_last, job_list, job_to_dict


class Command(BaseCommand):
    help = "Show the running export (else the last one), or with --history the exports newest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--history", action="store_true", help="List past exports, newest first.")
        parser.add_argument("--limit", type=int, default=20, help="How many exports --history shows (default 20).")
        parser.add_argument("--json", action="store_true", help="Print the job body (or list) as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["limit"] < 1:
            raise CommandError(f"--limit must be at least 1, got {options['limit']}.")
        if options["history"]:
            jobs, _last = job_list(offset=0, limit=options["limit"])
            if options["json"]:
                self.stdout.write(json.dumps([job_to_dict(j) for j in jobs], indent=2))
            elif not jobs:
                self.stdout.write("No export has run yet.")
            else:
                self.stdout.write(_history_table([job_to_dict(j) for j in jobs]))
            return
        job = job_current_or_last()
        if options["json"]:
            self.stdout.write(json.dumps(job_to_dict(job) if job else None, indent=2))
        elif job is None:
            self.stdout.write("No export has run yet.")
        else:
            self.stdout.write(_job_details(job_to_dict(job)))


def _duration(body: dict[str, Any]) -> str:
    from datetime import datetime

    if not body["startTime"] or not body["completedTime"]:
        return ""
    start = datetime.fromisoformat(body["startTime"])
    end = datetime.fromisoformat(body["completedTime"])
    seconds = int((end - start).total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _history_table(bodies: list[dict[str, Any]]) -> str:
    rows = [("JOB", "STATUS", "START", "END", "DURATION", "ROWS", "NODE")]
    for b in bodies:
        rows.append(
            (
                str(b["jobId"]),
                b["status"],
                b["startTime"] or "",
                b["completedTime"] or "",
                _duration(b),
                f"{b['statistics']['writtenRows']:,}",
                b["nodeId"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def _job_details(b: dict[str, Any]) -> str:
    stats = b["statistics"]
    lines = [
        f"Export {b['jobId']}: {b['status']}",
        f"  started     {b['startTime']}",
        f"  finished    {b['completedTime'] or '-'}",
        f"  schema      v{b['schema']['version']} ({b['schema']['status']})",
        f"  from date   {b['config']['exportFrom']}" + ("  (forced)" if b["config"]["forcedExport"] else ""),
        f"  rows        {stats['writtenRows']:,} written; {stats['exportedEntities']} entities exported",
        f"  node        {b['nodeId']}",
        f"  path        {b['rootExportPath']}/{b['jobId']}",
    ]
    opted = b["optedOutEntities"][0]["identifiers"] if b["optedOutEntities"] else []
    lines.append(f"  opted out   {', '.join(opted) if opted else '-'}")
    for name, entity in stats.get("entities", {}).items():
        total = entity.get("total")
        done = "done" if entity.get("done") else "..."
        seconds = f" in {entity['seconds']:.1f} s" if entity.get("seconds") is not None else ""
        of_total = f"/{total:,}" if total is not None else ""
        lines.append(f"  {name:<11} {entity.get('rows', 0):,}{of_total} rows {done}{seconds}")
    for w in b["warnings"]:
        lines.append(f"  warning     [{w['key']}] {w['message']}")
    for e in b["errors"]:
        lines.append(f"  error       [{e['key']}] {e['message']}")
    return "\n".join(lines)
