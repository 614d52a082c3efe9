"""MoDo: multi-objective gradient descent with double sampling (Chen et al., 2023)."""

import keras
import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib


@base.METHODS.register("modo")
class MoDo(base.TaskGradientMethod):
    """Multi-objective gradient with double sampling: the weights lambda take one projected
    step towards the min-norm combination of the task gradients, the Gramian estimated
    without bias from two independent samples; the model moves along a third sample's
    combination.

    Chen, Fernando, Ying and Chen, "Three-Way Trade-Off in Multi-Objective Learning:
    Optimization, Generalization and Conflict-Avoidance", NeurIPS 2023, as LibMTL's `MoDo`
    (from the authors' code) and its defaults. Three samples (the train step's three
    sub-batches) J_1, J_2, J_3: lambda <- Proj_simplex(lambda - gamma (J_1 J_2^T lambda +
    rho lambda)) (lambda = 1/T before the first step), then the update J_3^T lambda; lambda
    is logged as HEAD_weight.

    An absent task's lambda is 0 for the step: lambda is first projected onto the simplex
    of the tasks present (the same shift for each), then stepped and projected again. With
    one task the update is its gradient (the third sample's). Cost: three task-gradient
    passes per step (T D numbers each) and O(T D) work.
    """

    description = ("MoDo: weights stepped towards the min-norm combination, from two samples' "
                   "gradients, applied to a third's (Chen et al. 2023)")

    logs_weights = True
    samples = 3
    HYPERPARAMETERS = {
        "gamma": registry.Option(0.001, "the step of lambda (LibMTL's default)", minimum=0.0),
        "rho": registry.Option(0.1, "the l2 regularisation of lambda's step (LibMTL's "
                               "default)", minimum=0.0),
    }

    def create_variables(self):
        self.lambdas = self.state_variable(
            "lambdas", (self.task_count,),
            initializer=keras.initializers.Constant(1.0 / self.task_count))

    def combine(self, gradients, losses, step, present=None):
        del losses, step
        first, second, direction_sample = tf.unstack(gradients)
        present = gramian_lib.presence(present, first)
        options = self.options
        # On the simplex of the tasks present (unchanged when every task is).
        lambdas = gramian_lib.project_to_simplex(self.lambdas, present)
        descent = tf.linalg.matvec(first, tf.linalg.matvec(second, lambdas, transpose_a=True))
        weights = gramian_lib.project_to_simplex(
            lambdas - options["gamma"] * (descent + options["rho"] * lambdas), present)
        self.lambdas.assign(weights)
        return tf.linalg.matvec(direction_sample, weights, transpose_a=True), weights
