"""netc.runtime: NumPy kernels, the executor, data, training and statistics.

Knows nothing of Lark or Textual: it reads compiled graphs and plain settings.
"""
