"""The model class and its train step: MultiTaskModel (model.py), per-task losses exact over
replicas (task_losses.py), task gradients and their Gramian (gradients.py), the shared and
per-task variables (sharing.py), the step's logged figures (logs.py). The methods
(`mtl_keras.methods`) sit behind it."""
