"""Agents' own addresses, learned from their browsers through the Zendesk sidebar app."""
