"""Text -> token ids (or n-gram vectors), and token ids -> padded batches."""
