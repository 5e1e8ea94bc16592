"""netc.spec."""
