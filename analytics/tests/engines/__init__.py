"""Tests of the pure numeric engines: no database, independent references."""
