"""Adapters: settings, stores, password hashing, tokens, logging."""
