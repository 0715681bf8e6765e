"""The legal-case module: a legal team's workbook → staging → cases → phase history."""
