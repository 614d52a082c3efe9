"""SDMGrad: a direction-oriented multi-objective step from independent samples (Xiao et al.,
2023)."""

import keras
import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

SCALE_EPSILON = 1e-8


@base.METHODS.register("sdmgrad")
class SDMGrad(base.TaskGradientMethod):
    """Stochastic direction-oriented multi-objective gradient descent: the weights w solve,
    on the simplex, min_w 1/2 |J w|^2 + lamda <J w, g0> (a step that stays close to the
    average gradient g0 while helping every task), each side of the inner products from an
    independent stochastic sample; the update (J w + lamda g0) / (1 + lamda).

    Xiao, Ban and Ji, "Direction-oriented Multi-objective Learning: Simple and Provable
    Stochastic Algorithms", NeurIPS 2023, as LibMTL's `SDMGrad` (from the authors' code) and
    its defaults. Three samples (the train step's three sub-batches): J_1 gives the update,
    J_2 and J_3 the weights. With G = J_2 J_3^T / (s^2 + 1e-8), s the mean over the tasks
    of sqrt(max(G_tt, 0)), and b = lamda times G's row means, `iterations` steps of SGD with
    momentum (rate `learning_rate`, momentum `momentum`, the buffer restarted each training
    step) on the gradient G w + b, each followed by the projection onto the simplex, move
    w from its last step's value (1/T at first); the update is (J_1^T w + lamda mean_t
    J_1[t]) / (1 + lamda). w is logged as HEAD_weight.

    An absent task has weight 0 and is left out of the means, the scale and the simplex
    (w first projected onto the simplex of the tasks present: the same shift for each).
    With one task the update is its gradient (the first sample's). Cost: three
    task-gradient passes per step (T D numbers each), the O(T^2 D) product J_2 J_3^T (in
    float64), and `iterations` sorts of T.
    """

    description = ("SDMGrad: a step near the average gradient that helps every task, weights "
                   "from independent samples (Xiao et al. 2023)")

    logs_weights = True
    samples = 3
    HYPERPARAMETERS = {
        "lamda": registry.Option(0.3, "the pull towards the average gradient (LibMTL's "
                                 "default)", minimum=0.0),
        "iterations": registry.Option(20, "the steps of the weights' update per training step "
                                      "(LibMTL's default)", minimum=1, maximum=1000, whole=True),
        "learning_rate": registry.Option(5.0, "the rate of the weights' steps (LibMTL's)",
                                         minimum=0.0),
        "momentum": registry.Option(0.5, "their momentum (LibMTL's)", minimum=0.0,
                                    maximum=0.999),
    }

    def create_variables(self):
        self.simplex_weights = self.state_variable(
            "weights", (self.task_count,),
            initializer=keras.initializers.Constant(1.0 / self.task_count), dtype="float64")

    def combine(self, gradients, losses, step, present=None):
        del losses, step
        direction_sample, first, second = tf.unstack(gradients)
        present = gramian_lib.presence(present, direction_sample)
        options = self.options
        # The T x T work (and the state) in float64: SGD at rate 5 over 20 steps amplifies
        # rounding.
        mask = tf.cast(present, tf.float64)
        count = tf.maximum(tf.reduce_sum(mask), 1.0)
        gramian = tf.matmul(tf.cast(first, tf.float64), tf.cast(second, tf.float64),
                            transpose_b=True)
        diagonal = tf.maximum(tf.linalg.diag_part(gramian), 0.0)
        scale = tf.reduce_sum(tf.sqrt(diagonal) * mask) / count
        gramian = gramian / (tf.square(scale) + SCALE_EPSILON)
        bias = options["lamda"] * tf.linalg.matvec(gramian, mask) / count
        # On the simplex of the tasks present (unchanged when every task is).
        weights = gramian_lib.project_to_simplex(self.simplex_weights, present)

        def iterate(weights, buffer):
            # The buffer starts at 0: the first step's is the descent itself.
            descent = tf.linalg.matvec(gramian, weights) + bias
            buffer = options["momentum"] * buffer + descent
            return (gramian_lib.project_to_simplex(weights - options["learning_rate"] * buffer,
                                                   present), buffer)

        # A loop in the graph, not unrolled: one trace of the step, whatever `iterations`.
        weights, _ = tf.while_loop(lambda *_: True, iterate, (weights, tf.zeros_like(weights)),
                                   maximum_iterations=options["iterations"])
        self.simplex_weights.assign(weights)
        weights = tf.cast(weights, tf.float32)
        average = (tf.linalg.matvec(direction_sample, tf.cast(mask, tf.float32), transpose_a=True)
                   / tf.cast(count, tf.float32))
        update = (tf.linalg.matvec(direction_sample, weights, transpose_a=True)
                  + options["lamda"] * average) / (1.0 + options["lamda"])
        return update, weights
