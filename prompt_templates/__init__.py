"""Jinja2 prompt templates, one per cognitive step (package data; see agents/prompts.py)."""
