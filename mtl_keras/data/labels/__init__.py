"""Heads and their labels: what a dataset's heads are and how its labels become arrays.

- heads that are the levels of a published hierarchy: `hierarchy` (with the facts in
  `hierarchies.json`), `hierarchical` (a hierarchical dataset's `DataSource`) and `synthetic`
  (made-up examples whose labels follow a hierarchy, for --synthetic runs);
- heads that are the tasks of a family, each on images of its own: `families`;
- heads the user declares: `task_spec` (--tasks, a task file), `labels` (a table's cells as
  arrays and masks, the finished `Task`), `tfds_features` (a TFDS dataset's features as labels).

These modules read no image file: the datasets (`mtl_keras.data.datasets`) hand them labels.
"""
