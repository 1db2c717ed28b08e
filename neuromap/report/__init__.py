"""Report writers (JSON, Markdown)."""
from .writer import (build_report, known_error_text, render_markdown, summary_of, write_json_atomic,
                     write_report)

__all__ = ["build_report", "known_error_text", "render_markdown", "summary_of", "write_json_atomic", "write_report"]
