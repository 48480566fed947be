"""Independent, test-only reference implementations (see README.md in this directory)."""
