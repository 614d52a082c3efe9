"""The registry of multi-task methods and the base class every method extends.

A method decides how the per-task losses of a training step become one update of the
shared variables. There are three levels:

- **loss level** (`level = "loss"`): `objective(losses, step, present)` turns the vector
  of task losses into one scalar (`present` as below). The train step differentiates it with respect to the losses,
  which gives each task's weight, and with respect to the method's own trainable
  variables (uncertainty weighting's log-variances), which the model's optimizer updates.
- **gradient level** (`level = "gradient"`): `task_weights(gramian, losses, step, present)`
  turns the Gramian of the task gradients (T×T inner products, G[i, j] = <g_i, g_j>) into
  one weight per task; the update of the shared variables is sum_i w_i g_i. `present`
  (boolean [T]) marks the tasks with a known label in the global batch: an absent task's
  gradient is zero and it gets weight 0, leaving the others' weights as if it were not
  there; a present task keeps its part however small its gradient. Every gradient
  method listed in the README (MGDA, PCGrad, CAGrad, IMTL-G, Nash-MTL, Aligned-MTL,
  UPGrad, GradNorm, GradVac, Krum) is such a linear combination whose coefficients depend
  on the gradients only through their inner products, so that the Gramian (summed across
  replicas) is all a method sees: exact under tf.distribute, and T×T numbers however
  large the model. `transform(losses, present)` may rescale each task's loss first (IMTL's loss
  scales), with trainable variables of its own, and `auxiliary_loss` may train other
  variables of the method (GradNorm's weights). Both are differentiated by the train
  step with respect to the method's trainable variables only.
- **task-gradient level** (`level = "task_gradients"`, `TaskGradientMethod`):
  `combine(gradients, losses, step, present)` receives the task gradients themselves, a
  float32 [T, D] over the shared variables flattened, and returns the update of the shared
  variables (a [D] vector) with, where they mean something, the weights it gave the tasks.
  For the methods that need more than inner products: those that act coordinate by
  coordinate (GradDrop, the trimmed mean) or keep moving averages of the gradients (MoCo,
  DB-MTL) or of their squares (ExcessMTL). The train step sums the task gradients over the replicas before the method runs
  (the global batch's gradients, the same on every replica: exact under tf.distribute).
  Representation gradients are each example's own, on which a coordinate-wise or moving
  average method is not its paper's: these methods refuse `rep_grad`. A method that needs
  independent stochastic samples within a step (MoDo, SDMGrad) declares `samples = K`: the
  train step then splits the global batch into K sub-batches and passes a [K, T, D], each
  sub-batch's task gradients (see `TaskGradientMethod`).

The train step (`step/levels.py`) hands every method *global* values: the losses of
the whole global batch, the Gramian of the whole batch's gradients and the tasks present
in it, identical on every replica. A method's state variables are therefore updated the
same way on every replica (`state_variable` makes them so). Random choices (RLW's
weights, PCGrad's order) come from `random_seed(step)`: the same on every replica, and
again after a resume.

Adding a method: one file in this folder with a subclass registered under its name
(`@METHODS.register("name")`), its paper cited in the docstring and its hyperparameters
with the paper's defaults in `HYPERPARAMETERS`; one import line in `__init__.py`; a test.
"""

import functools
import inspect

import keras
import tensorflow as tf

from mtl_keras import registry

METHODS = registry.Registry("weighting method", docs="mtl_keras/methods/README.md",
                            flag="--weighting")


class Method(keras.layers.Layer):
    """Base class of the multi-task methods (see the module docstring).

    Attributes:
      task_names: the tasks in the order of the loss vector and the Gramian's rows.
      steps_per_epoch: training steps per epoch (for methods that work per epoch).
      seed: the run's seed (for methods that draw random numbers).
      options: {hyperparameter: value}, the defaults of `HYPERPARAMETERS` updated with
        the user's `--weighting_options`.
    """

    level = "loss"
    # name → registry.Option; settable as --weighting_options=name=value.
    HYPERPARAMETERS = {}
    # Whether the train step logs the effective task weights (not for equal: always 1).
    logs_weights = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("objective", "transform", "task_weights", "auxiliary_loss"):
            _accept_presence(cls, name)
        # Serializable by class name, so that a saved model's compile configuration
        # brings its method back.
        keras.saving.register_keras_serializable(package="mtl_keras.methods")(cls)

    def __init__(self, task_names, steps_per_epoch=1, seed=0, options=None, **kwargs):
        super().__init__(name=kwargs.pop("name", "weighting_method"), **kwargs)
        self.task_names = tuple(task_names)
        self.steps_per_epoch = int(steps_per_epoch)
        self.seed = int(seed)
        self.options = resolve_options(type(self), options or {})

    @property
    def task_count(self):
        """T, the number of tasks."""
        return len(self.task_names)

    def build(self, input_shape=None):
        """Creates the method's variables (the subclass's `create_variables`)."""
        self.create_variables()
        self.built = True

    def create_variables(self):
        """Subclasses create their variables here with `add_weight`/`state_variable`."""

    def state_variable(self, name, shape=(), initializer="zeros", dtype="float32"):
        """A non-trainable variable that every replica updates with the same value."""
        return self.add_weight(name=name, shape=shape, initializer=initializer, dtype=dtype,
                               trainable=False, aggregation="only_first_replica")

    def random_seed(self, step, stream=0):
        """A stateless-random seed for `step`: the same on every replica and after a resume."""
        return tf.stack([tf.cast(self.seed * 1009 + stream, tf.int64), tf.cast(step, tf.int64)])

    # Loss level.
    def objective(self, losses, step, present=None):
        """The scalar the model minimises, from the global task losses (a float32 [T]);
        `present` as `task_weights`'s (an absent task's loss is 0)."""
        del step, present
        return tf.reduce_sum(losses)

    # Gradient level.
    def transform(self, losses, present=None):
        """Per-task rescaled losses, elementwise in `losses` (default: unchanged);
        `present` as `task_weights`'s."""
        del present
        return losses

    def task_weights(self, gramian, losses, step, present=None):
        """The weight of each task's gradient in the update, a float32 [T] (no gradient).

        Args:
          gramian: float32 [T, T], the Gramian of the global batch's task gradients.
          losses: float32 [T], the global task losses (after `transform`).
          step: the optimizer's step.
          present: boolean [T], the tasks with a known label in the global batch; None
            (a call on a bare Gramian) means every task.
        """
        raise NotImplementedError

    def auxiliary_loss(self, gramian, losses, step, present=None):
        """A scalar whose gradient trains the method's own trainable variables (GradNorm's
        weights); the model's variables never see it. Default: none (0). Arguments as
        `task_weights`'s."""
        del gramian, losses, step, present
        return tf.constant(0.0)

    @classmethod
    def rep_grad_refusal(cls):
        """Why `rep_grad` does not apply to the method, as the end of a sentence
        ("--weighting=NAME ..."); None when it applies (the Gramian-level methods)."""
        return REP_GRAD_REFUSALS.get(cls.level)

    def get_config(self):
        return {**super().get_config(), "task_names": list(self.task_names),
                "steps_per_epoch": self.steps_per_epoch, "seed": self.seed,
                "options": dict(self.options)}


def _accept_presence(method_class, name):
    """Lets the train step pass `present` to a method whose `name` (`objective`,
    `transform`, `task_weights` or `auxiliary_loss`) was written without it, as Keras passes
    `training` only to the layers whose `call` takes it: such a method ignores which tasks
    are present."""
    function = method_class.__dict__.get(name)
    if function is None or "present" in inspect.signature(function).parameters:
        return
    arguments = len(inspect.signature(function).parameters) - 1  # without self

    @functools.wraps(function)
    def ignoring_presence(self, *args, present=None):
        del present
        return function(self, *args[:arguments])

    setattr(method_class, name, ignoring_presence)


class TaskGradientMethod(Method):
    """Base class of the task-gradient-level methods (see the module docstring).

    Built by the train step with the shape of the task gradients, (T, D), D the number of
    shared parameters: `create_variables` may then size state on `self.dimension` (MoCo's
    and DB-MTL's moving averages of the gradients).
    """

    level = "task_gradients"
    logs_weights = False
    # K, the independent samples of the task gradients the method needs in a step. With
    # K > 1 the train step splits the global batch into K contiguous sub-batches (the
    # examples in the order of the global batch, K parts of equal size up to one example;
    # on several replicas, sub-batch k is the union of the replicas' parts of it) and
    # `combine` receives their task gradients, [K, T, D], each task's loss on a sub-batch
    # being its mean over that sub-batch's known labels. A global batch of fewer than K
    # examples gives every sample the whole batch.
    samples = 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _accept_presence(cls, "combine")

    def build(self, input_shape=None):
        """Creates the method's variables for task gradients of shape (T, D)."""
        self.dimension = int(input_shape[-1]) if input_shape else 0
        self.create_variables()
        self.built = True

    def combine(self, gradients, losses, step, present=None):
        """The update of the shared variables and the tasks' weights (no gradient).

        Args:
          gradients: float32 [T, D], the global batch's task gradients (summed over the
            replicas), the shared variables flattened; [K, T, D], those of the K
            sub-batches, for a method with `samples = K` > 1 (a task with no known label
            in a sub-batch has a zero gradient there).
          losses: float32 [T], the global task losses.
          step: the optimizer's step.
          present: boolean [T], the tasks with a known label in the global batch (an
            absent task's gradient is zero, not known); None means every task.

        Returns:
          (update, weights): float32 [D]; float32 [T] the method's weights of the tasks
          (logged as HEAD_weight when `logs_weights`), or None.
        """
        raise NotImplementedError


REP_GRAD_REFUSALS = {
    "loss": "weights the losses",
    "task_gradients": ("combines the task gradients of the shared variables, coordinate by "
                       "coordinate or through their moving averages, as its paper does; "
                       "representation gradients (each example's own) would make it another "
                       "method"),
}


def resolve_options(method_class, options):
    """The method's hyperparameters: its defaults, updated with `options` ({name: value}).

    Raises:
      UserError: `options` names a hyperparameter the method does not have, or gives one a
        value outside what it allows.
    """
    name = METHODS.name_of(method_class)
    return registry.resolve_options(method_class.HYPERPARAMETERS, options, METHODS.options_flag,
                                    f"--weighting={name}" if name else "the method")


def make(name, task_names, steps_per_epoch=1, seed=0, options=None):
    """Returns the registered method `name`, built for `task_names`."""
    method = METHODS.get(name)(task_names, steps_per_epoch=steps_per_epoch, seed=seed,
                               options=options)
    if method.level != "task_gradients":  # built by the train step, which knows D
        method.build()
    return method
