"""Shared maths of the gradient methods: the Gramian they see, a solver on the simplex, and
the projection onto it.

Every gradient method turns the T×T Gramian G[i, j] = <g_i, g_j> into one weight per task.
The helpers here work in float64 (T×T numbers: the cost is nil, and the solvers' answers
depend on the Gramian's conditioning), on a Gramian rescaled to a mean diagonal of 1 (all
the methods but Nash-MTL are invariant to its scale), and with the tasks present in the step
marked so that a method can leave the others out. Everything is plain TensorFlow: it runs
inside `tf.function`, also with `jit_compile=True`.

A task is absent from a step when the global batch holds no known label for it (task
sampling, a label column with empty cells): the train step says which, from the counts of
known labels summed over the replicas. A small gradient never makes a task absent: the
methods' updates then change continuously as a task's gradient shrinks to zero.
"""

import tensorflow as tf

# Smallest positive number the float64 maths divides by.
TINY = 1e-30


def finite(gramian):
    """The Gramian in float64, symmetric; zero if any entry is not finite.

    A NaN Gramian comes from a diverged model, which the trainer reports by its losses;
    the solvers must not fail first (a Cholesky factorisation of NaNs raises outside XLA).
    """
    gramian = tf.cast(gramian, tf.float64)
    gramian = 0.5 * (gramian + tf.transpose(gramian))
    return tf.where(tf.reduce_all(tf.math.is_finite(gramian)), gramian, tf.zeros_like(gramian))


def prepare(gramian):
    """The Gramian in float64, symmetric, rescaled to a mean diagonal of 1.

    Args:
      gramian: float [T, T], G[i, j] = <g_i, g_j>.

    Returns:
      (normalized, scale): `normalized` * `scale` is the symmetrised Gramian; `scale` is
      its mean diagonal (1 when the Gramian is zero, so that nothing divides by zero).
    """
    gramian = finite(gramian)
    scale = tf.reduce_mean(tf.linalg.diag_part(gramian))
    scale = tf.where(scale > TINY, scale, tf.ones_like(scale))
    return gramian / scale, scale


def presence(present, gramian):
    """Boolean [T]: the tasks present in the step.

    Args:
      present: what the train step passes, one entry per task (boolean, or a number that is
        nonzero for a present task); None, as when a method is called on a bare Gramian,
        means that every task is present.
      gramian: the [T, T] Gramian, for T.
    """
    if present is None:
        return tf.ones(tf.shape(gramian)[:1], tf.bool)
    present = tf.convert_to_tensor(present)
    if present.dtype == tf.bool:
        return present
    return tf.not_equal(present, tf.zeros_like(present))


def unit_cosines(gramian, present):
    """(kept, inverse_norms, cosines) of a float64 Gramian: the present tasks with a nonzero
    gradient (boolean [T]); 1 / |g_i| for those, 0 for the others; the cosines of their
    gradients, 0 in the rows and columns of the others. For the methods that need each
    gradient's direction (IMTL-G, Nash-MTL, ConFIG)."""
    squared_norms = tf.linalg.diag_part(gramian)
    kept = present & (squared_norms > 0.0)
    inverse_norms = tf.where(kept, tf.math.rsqrt(tf.where(kept, squared_norms, 1.0)), 0.0)
    return kept, inverse_norms, gramian * inverse_norms[:, None] * inverse_norms[None, :]


def to_weights(weights):
    """The float32 [T] a method returns, with any non-finite entry replaced by 0."""
    weights = tf.where(tf.math.is_finite(weights), weights, tf.zeros_like(weights))
    return tf.stop_gradient(tf.cast(weights, tf.float32))


def simplex_descent(gramian, allowed, gradient, line_step, max_iterations=1000,
                    tolerance=1e-10):
    """Minimises a convex function of w over the simplex of the `allowed` tasks.

    Pairwise Frank-Wolfe (the simplex's SMO): each iteration moves weight from the task
    of the support with the largest partial derivative to the task with the smallest one,
    by an exact line search. It converges linearly on a quadratic (MGDA); an iteration
    costs O(T^2) (it keeps `G @ w` up to date).

    Args:
      gramian: float64 [T, T].
      allowed: bool [T], the tasks the weight may go to (the others keep weight 0).
      gradient: (w, gramian_w) -> float64 [T], the function's partial derivatives.
      line_step: (source, target, w, gramian_w) -> the unconstrained best step along
        e_target - e_source (clipped here to [0, w_source]).
      max_iterations: the iteration limit.
      tolerance: stop when the derivatives on the support differ by less.

    Returns:
      float64 [T]: w >= 0, sum 1 over the allowed tasks (all zeros if none is allowed).
    """
    allowed_float = tf.cast(allowed, tf.float64)
    weights = allowed_float / tf.maximum(tf.reduce_sum(allowed_float), 1.0)
    infinity = tf.constant(float("inf"), tf.float64)

    def gap_and_pair(weights, gramian_weights):
        derivatives = gradient(weights, gramian_weights)
        to_target = tf.where(allowed, derivatives, infinity)
        from_source = tf.where(weights > 0, derivatives, -infinity)
        target = tf.argmin(to_target, output_type=tf.int32)
        source = tf.argmax(from_source, output_type=tf.int32)
        return tf.gather(from_source, source) - tf.gather(to_target, target), source, target

    def condition(iteration, weights, gramian_weights, gap, source, target):
        del weights, gramian_weights, source, target
        return (iteration < max_iterations) & (gap > tolerance)

    def body(iteration, weights, gramian_weights, gap, source, target):
        del gap
        step = line_step(source, target, weights, gramian_weights)
        step = tf.clip_by_value(step, 0.0, tf.gather(weights, source))
        step = tf.where(tf.math.is_finite(step), step, tf.zeros_like(step))
        move = step * (tf.one_hot(target, tf.size(weights), dtype=tf.float64)
                       - tf.one_hot(source, tf.size(weights), dtype=tf.float64))
        # Exact zeros where a weight left the support, so that it drops out of it.
        weights = tf.maximum(weights + move, 0.0)
        gramian_weights += tf.linalg.matvec(gramian, move)
        return (iteration + 1, weights, gramian_weights) + gap_and_pair(weights, gramian_weights)

    gramian_weights = tf.linalg.matvec(gramian, weights)
    start = (tf.constant(0), weights, gramian_weights) + gap_and_pair(weights, gramian_weights)
    _, weights, _, _, _, _ = tf.while_loop(condition, body, start)
    no_task = tf.logical_not(tf.reduce_any(allowed))
    return tf.where(no_task, tf.zeros_like(weights), weights)


def pair_terms(gramian, source, target):
    """G[t, t] + G[s, s] - 2 G[s, t]: the squared norm of g_target - g_source."""
    return (tf.gather_nd(gramian, [[target, target]])[0]
            + tf.gather_nd(gramian, [[source, source]])[0]
            - 2.0 * tf.gather_nd(gramian, [[source, target]])[0])


def project_to_simplex(vector, allowed):
    """The Euclidean projection of `vector` onto the simplex of the `allowed` tasks (w >= 0,
    sum 1, 0 for the others); zeros when no task is allowed.

    Sorted-threshold algorithm: with u the allowed entries sorted in decreasing order, rho
    the largest j such that u_j > (sum_{i <= j} u_i - 1) / j, the projection is
    max(v - theta, 0) for theta = (sum_{i <= rho} u_i - 1) / rho.

    Args:
      vector: float [T].
      allowed: boolean [T].
    """
    lowest = tf.fill(tf.shape(vector), tf.constant(-float("inf"), vector.dtype))
    sorted_values = tf.sort(tf.where(allowed, vector, lowest), direction="DESCENDING")
    finite_values = tf.where(tf.math.is_finite(sorted_values), sorted_values,
                             tf.zeros_like(sorted_values))
    sums = tf.cumsum(finite_values)
    counts = tf.cast(tf.range(1, tf.size(vector) + 1), vector.dtype)
    satisfied = sorted_values * counts > sums - 1.0
    rho = tf.reduce_max(tf.where(satisfied, counts, tf.zeros_like(counts)))
    index = tf.maximum(tf.cast(rho, tf.int32) - 1, 0)
    theta = (tf.gather(sums, index) - 1.0) / tf.maximum(rho, 1.0)
    projected = tf.maximum(vector - theta, 0.0)
    return tf.where(allowed, projected, tf.zeros_like(projected))
