"""Local stand-in for AWS: a deterministic synthetic world, a Cost Explorer emulator and a moto server.

Submodules are imported on demand so that importing the package stays cheap.
"""
