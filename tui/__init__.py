"""netc.tui."""
