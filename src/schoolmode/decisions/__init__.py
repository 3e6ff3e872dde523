"""Daily decisions, their audit records, and reproducing them."""
