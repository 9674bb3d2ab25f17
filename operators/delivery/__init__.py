"""What happens to a decision on its way out: routing, silences, signing, redaction, audit chain."""
