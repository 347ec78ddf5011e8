"""Files: scenario TOML and trace CSVs read from and written to disk."""
