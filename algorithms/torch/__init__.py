"""Batched torch engine (seeds x clients x d), device-agnostic; torch.optim optimizers."""
