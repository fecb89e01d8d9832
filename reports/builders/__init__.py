"""Report builders: one document read from stored analytics, rendered as JSON, CSV, Markdown and HTML.

``document.report_document_build`` reads the stored results (through the analytics and portfolios
selectors; nothing is recomputed) into one JSON-able document. The JSON report *is* that document,
so its numbers are the stored numbers. ``present`` turns the document into formatted sections that
the Markdown and HTML renderers share; ``charts`` draws the HTML report's charts on the server as SVG
(with the small builder in ``svg``, no matplotlib).
"""
