"""Model families, built by name through `lexiclass.models.registry`."""
