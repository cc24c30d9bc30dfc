"""Thin command-line layer: parse flags, call the library, print. No logic lives here."""
