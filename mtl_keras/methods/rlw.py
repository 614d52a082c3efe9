"""Random loss weighting (RLW).

Lin, Ye, Xu, Shi and Zhang, "Reasonable Effectiveness of Random Weighting: A Litmus Test for
Multi-Task Learning", TMLR 2022.
"""

import tensorflow as tf

from mtl_keras.methods import base


@base.METHODS.register("rlw")
class RandomLossWeighting(base.Method):
    """Every step draws weights softmax(z), z ~ N(0, I) (they sum to 1), and minimises
    sum_t w_t L_t. The draw is a stateless function of the run's seed and the step: the
    same on every replica and again after a resume. Cost: T random numbers per step.
    """

    description = "random loss weighting: weights drawn anew every step (Lin et al. 2022)"

    def objective(self, losses, step):
        logits = tf.random.stateless_normal([self.task_count], seed=self.random_seed(step))
        return tf.reduce_sum(tf.nn.softmax(logits) * losses)
