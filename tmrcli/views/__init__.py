"""Everything that prints or draws: the consoles, tables and JSON, progress bars, the HTML page, stick figures."""
