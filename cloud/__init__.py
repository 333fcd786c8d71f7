"""The HQ side: ingest every station's events, roll them up, score, rank, alert and serve."""
