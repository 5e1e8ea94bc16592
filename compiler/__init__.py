"""netc.compiler."""
