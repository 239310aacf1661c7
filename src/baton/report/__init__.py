"""Value reports: report.json plus a single-file report.html with plots."""
