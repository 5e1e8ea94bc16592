"""netc's networks in PyTorch: the generated module (`codegen`), its weights in both naming schemes
(`build`), the helper modules torch.nn lacks (`modules`) and the `--engine torch` trainer
(`engine`). Everything but `codegen` imports torch: import these modules only when torch is needed."""
