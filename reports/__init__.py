"""Report builders (Markdown, JSON, CSV, HTML with charts) from stored analytics."""
