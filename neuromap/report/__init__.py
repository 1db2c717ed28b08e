"""Reports: the schema, the JSON / Markdown / HTML writers, their figures, and comparisons."""
from .schema import SCHEMA, check_report
from .writer import (build_report, known_error_text, render_markdown, summary_of, wilson_interval,
                     write_json_atomic, write_report)

__all__ = ["SCHEMA", "build_report", "check_report", "known_error_text", "render_markdown", "summary_of",
           "wilson_interval", "write_json_atomic", "write_report"]
