"""Pretrained word vectors."""
