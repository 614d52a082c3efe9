"""mtl_keras: multi-task learning on images with Keras — one shared trunk, named heads."""

__version__ = "0.1.0"


def load(path):
    """Loads a run's model for prediction: `mtl_keras.load("runs/X").predict(images)`.

    Args:
      path: a run's folder (its model.keras) or a .keras file that a run saved.

    Returns:
      A `mtl_keras.predictor.Predictor`: `.predict(images)` answers each image with every
      head's prediction, by name; `.tasks` describes the heads.
    """
    # Imported here: TensorFlow is slow to import, and `import mtl_keras` must stay quick.
    from mtl_keras import predictor  # noqa: PLC0415

    return predictor.load(path)
