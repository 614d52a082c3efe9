"""mtl_keras: multi-task learning on images with Keras — one shared trunk, named heads."""

__version__ = "0.1.0"
