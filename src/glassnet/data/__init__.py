"""Bringing digits in: IDX files, MNIST, mini-batches, augmentation and preprocessing."""
