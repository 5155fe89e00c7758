"""FOCUS 1.0: the AWS Data Exports import (source, ingest), the spec's column rules and the export."""
