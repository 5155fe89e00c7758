"""One writer per format; each takes an open binary file (see ``safety.SafeFolder.atomic``)."""
