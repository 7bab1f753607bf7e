"""Widgets that draw the data: digits, confusion heat maps, plots, scatter plots."""
