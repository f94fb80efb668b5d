"""Fitting models and writing run directories."""
