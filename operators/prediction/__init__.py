"""Forecasters, thresholds, breach prediction, recommendations and learning from feedback."""
