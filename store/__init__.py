"""The incident store: incident versions, anomalies, predictions, feedback (SQLite, PostgreSQL)."""
