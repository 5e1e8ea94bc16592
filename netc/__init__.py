"""netc: write, train and see inside small neural networks."""
