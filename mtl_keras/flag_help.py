"""The help text of each training flag (`mtl-keras train --help`), by name.

Plain data: `cli/training_flags.py` defines the flags on the FlagValues of the commands that
take them, and adds the registered names (and options) to the flags that choose among them.
"""

RUN = {
    "experiment": "Name of the experiment; names the default workdir. Default: DATASET_TRUNK.",
    "dataset": 'The dataset (tfds:NAME: a TensorFlow Datasets dataset whose features --tasks maps to heads, e.g. tfds:celeb_a).',
    "heads": "Hierarchical datasets: the label levels to train as heads, e.g. fine,coarse,top "
             "(default: the dataset's own); multi_fashion: left, right or both (default).",
    "trunk": 'The trunk the heads share (stage-wise architectures need one in stages).',
    "architecture": 'Which layers the heads share (README: Multi-task architectures).',
    "architecture_options": "Hyperparameters of the --architecture, NAME=NUMBER,... e.g. experts=4 for mmoe (default: the paper's).",
    "epochs": "Training epochs.",
    "batch_size": "Global batch size, split over the replicas of the strategy (0: chosen by "
                  "the dataset's size, 128 from 3,840 training images on).",
    "learning_rate": "Peak learning rate (0: chosen, 0.1 per 128 images of batch for SGD, "
                     "0.002 for AdamW).",
    "optimizer": "sgd (Nesterov momentum), adamw, or auto (AdamW below 12,800 training "
                 "images, SGD from there on).",
    "momentum": "SGD momentum.",
    "weight_decay": "Decoupled weight decay; biases and normalization are spared.",
    "schedule": "cosine (linear warm-up, then cosine to 0), onecycle or constant.",
    "batch_norm_momentum": "Momentum of the trunk's batch-normalization moving averages (0: "
                           "chosen, 1 - 1/steps per epoch, between 0.5 and 0.99).",
    "warmup_epochs": "Epochs of linear warm-up for the cosine schedule.",
    "loss_weights": "Per-head loss weights, e.g. fine=1.0,coarse=0.5; unnamed heads weigh 1. "
                    "They multiply the losses before the --weighting method sees them.",
    "weighting": "The multi-task method that turns the heads' losses into one update (mtl_keras/methods/README.md).",
    "weighting_options": "Hyperparameters of the --weighting method, NAME=NUMBER,... e.g. c=0.4 for cagrad (default: the paper's).",
    "rep_grad": "Gradient-level methods: take each head's gradient with respect to the "
                "trunk's output (one small backward pass per head, then one through the "
                "trunk) instead of the trunk's variables (one backward pass per head).",
    "augment": "Pad-4 random crop and horizontal flip of training images (no flip where the "
               "heads name positions, as in multi_fashion).",
    "random_erasing": "With --augment: probability that a training image also gets one random "
                      "rectangle (2-40 % of its area, aspect ratio 0.3-3.3) replaced by noise "
                      "(Zhong et al. 2017).",
    "test_flip": "Test-time augmentation: also predict every test image mirrored left-right "
                 "and average the predictions (metrics.json keeps the figures of the plain "
                 "image alone under heads_single_view).",
    "test_shift": "Test-time augmentation: also predict every test image moved this many "
                  "pixels up, down, left and right (zero-filled) and average the predictions; "
                  "with --test_flip, their mirror images too (10 views at 1). 0: off.",
    "validation_size": "Training examples held out for validation (0 for none; -1: a tenth "
                       "of them, at most 5,000).",
    "seed": "Seed of initialization, shuffling and augmentation.",
    "deterministic": "Turn on TensorFlow op determinism (slower).",
    "jit_compile": "XLA: auto (on GPUs only: it was slower for every trunk on the CPU measured, "
                   "see benchmarks/README.md; Keras' own jit_compile='auto' would turn it on "
                   "on CPUs too), true or false.",
    "strategy": "auto (mirrored over the local GPUs when there are two or more, else default), "
                "default, mirrored (all local GPUs) or multi_worker (reads TF_CONFIG).",
    "mixed_precision": "16-bit compute, float32 weights: auto (where it is faster: GPUs of "
                       "compute capability 7.0+; CPUs with AVX-512 BF16 or AMX where a 2-second "
                       "measurement, made once per CPU model and kept in "
                       "~/.cache/mtl_keras or $MTL_KERAS_CACHE, finds bfloat16 faster), true "
                       "or false. float16 on GPUs, bfloat16 on CPUs; the heads stay float32.",
    "losses": "Per-head loss overrides: HEAD=NAME (mse, mae, huber, binary_crossentropy, "
              "sparse_categorical_crossentropy; one that fits the head's kind) or "
              "HEAD=package.module:function, a loss(y_true, y_pred) returning one value per "
              "example, shape (batch,); y_true in the targets' units: class ids (batch,) "
              "against probabilities (batch, classes) for multiclass heads, (batch, 1) for "
              "binary and regression heads, (batch, labels) for multilabel ones.",
    "label_smoothing": "Label smoothing of the multiclass heads that use the default "
                       "cross-entropy, e.g. 0.1 (0: none): targets 1 - s on the label plus s "
                       "spread evenly over the classes.",
    "data_dir": "TensorFlow Datasets data directory (default: TFDS' own); for fashion_mnist, "
                "the folder of its four idx .gz files.",
    "csv": "--dataset=folder: CSV with an image-path column and one column per head.",
    "image_dir": "Folder of the images (folder: default the CSV's folder; utkface: required).",
    "image_column": "--dataset=folder: the CSV column of image paths.",
    "split_column": "--dataset=folder: the CSV column of train/validation/test, if present.",
    "tasks": "--dataset=folder or tfds:NAME: heads as [HEAD=]SOURCE:KIND[:CLASSES],... e.g. "
             "age:regression,gender:binary:male|female,race:multiclass:7. SOURCE: the CSV "
             "column, or the TFDS feature (attributes/Smiling; attributes/* for one head per "
             "sub-feature); HEAD: the head's name (default: SOURCE's last part). KIND: "
             "multiclass, binary, regression or multilabel; CLASSES: a count (labels 0..N-1) "
             "or names joined by | (a binary head's first name is 0).",
    "tasks_file": "--dataset=folder or tfds:NAME: JSON list of heads (name, kind, and "
                  "optionally source, classes, loss, weight).",
    "image_size": "folder, utkface, omniglot and tfds: images are resized to this many pixels square.",
    "test_fraction": "folder and utkface without a split column: share of images for testing.",
    "in_memory": "folder, utkface and tfds: auto (decode the images into memory when they take "
                 "at most 1 GiB decoded, else stream them from disk in tf.data), true or false.",
    "cache_dir": "Streamed folder and utkface images: a folder where they are decoded once "
                 "into TFRecord shards, read by later runs on the same images and split "
                 "over workers by file (without it, every epoch decodes the image files).",
    "archive": "Path of an original dataset archive (e.g. cifar-100-python.tar.gz); no download. "
               "omniglot: its zip files, joined by commas.",
    "checkpoint_minutes": "Within an epoch, save the run's state (to resume from) this often; "
                          "it is also saved after every epoch. 0: after epochs only. A "
                          "resumed run may change it.",
    "max_loss_growth": "Stop the run as diverged (exit status 3) when a head's training loss "
                       "grows past this many times its first value, as well as when it turns "
                       "NaN or infinite. 0: no limit. A resumed run may change it.",
    "early_stopping_patience": "Stop training when best.keras (the monitored validation "
                               "metric of the first head) has not improved for this many "
                               "epochs, and end with its weights. 0: off. Needs a validation "
                               "split.",
    "progress_seconds": "When the output is not a terminal, print a progress line (step, "
                        "images/s, time left) this often within an epoch and a prediction; a "
                        "terminal gets a bar. A resumed run may change it.",
    "protocol": "How the heads train: single_task trains the head --task alone, on the images that have its label; task_sampling draws each step's task by --sampling; standard needs a task family.",
    "task": "--protocol=single_task: the head to train (a study trains one run per head).",
    "sampling": "--protocol=task_sampling: how each step's task is drawn: uniform, proportional "
                "to its training images (with --sampling_temperature), or annealed from "
                "proportional to nearly uniform over the epochs (Stickland & Murray 2019).",
    "sampling_temperature": "Proportional task sampling: probabilities proportional to "
                            "size ** (1 / T); 1 is proportional, larger is nearer uniform.",
    "synthetic": "Use made-up images shaped like the dataset (smoke runs).",
    "synthetic_examples": "Number of made-up training images with --synthetic.",
    "workdir": "Output folder. Default: runs/EXPERIMENT-TIMESTAMP.",
}
