"""Real-browser journeys against the started portal (see conftest.py)."""
