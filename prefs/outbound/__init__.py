"""Outbound network access (webhook deliveries): which destinations may be reached, and the client that reaches them."""
