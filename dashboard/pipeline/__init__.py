"""The data pipeline: raw open data -> the processed files under data/."""
