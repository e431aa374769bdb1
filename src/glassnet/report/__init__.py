"""The run record: history files, metrics, the Markdown report and (optional) plots."""
