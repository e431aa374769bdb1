"""The network written by hand: parameters, layers, losses, model, optimizers."""
