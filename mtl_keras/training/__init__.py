"""Training: strategy, optimizer, compile, callbacks and the train-and-evaluate loop."""
