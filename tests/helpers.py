"""Helpers shared by the tests: CIFAR-100 archives in the original layouts, short training runs,
stderr parsing, the entry point run in process, free ports for a loopback cluster."""

import gzip
import io
import pathlib
import pickle
import re
import socket
import struct
import tarfile

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
SMOKE_FLAGS = REPO / "experiments" / "smoke.flags"


def known_images(count, offset=0):
    """HWC uint8 images whose pixel [n, row, col, channel] is a known formula."""
    n, row, col, channel = np.indices((count, 32, 32, 3))
    return ((n + offset) * 37 + channel * 85 + row * 7 + col) % 256


def channel_major_records(count, offset=0):
    """The same images as `known_images`, written as the original files do: N×3072,
    the R plane (row-major), then the G plane, then the B plane."""
    n, channel, row, col = np.indices((count, 3, 32, 32))
    values = ((n + offset) * 37 + channel * 85 + row * 7 + col) % 256
    return values.reshape(count, 3 * 32 * 32).astype(np.uint8)


def write_tar_gz(path, members):
    """Writes a .tar.gz holding `members` ({name inside the archive: bytes})."""
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return str(path)


def python_batch(records, fine, coarse):
    """A CIFAR-100 python batch pickled like the original (protocol 2, bytes keys)."""
    return pickle.dumps({
        b"filenames": [f"image_{i}.png".encode() for i in range(len(fine))],
        b"batch_label": b"made for the tests",
        b"fine_labels": [int(label) for label in fine],
        b"coarse_labels": [int(label) for label in coarse],
        b"data": records,
    }, protocol=2)


def binary_batch(records, fine, coarse):
    """CIFAR-100 binary records: coarse byte, fine byte, 3,072 channel-major pixels."""
    rows = [bytes([int(c), int(f)]) + record.tobytes()
            for record, f, c in zip(records, fine, coarse)]
    return b"".join(rows)


class CifarArchiveMaker:
    """Writes small CIFAR-100 archives in the original layouts into a folder."""

    def __init__(self, folder, hierarchy, num_train=12, num_test=4):
        self.folder = pathlib.Path(folder)
        self.hierarchy = hierarchy
        rng = np.random.default_rng(7)
        self.fine = {"train": rng.integers(0, 100, num_train), "test": rng.integers(0, 100, num_test)}
        self.coarse = {split: hierarchy.parents["fine"][fine] for split, fine in self.fine.items()}
        self.offset = {"train": 0, "test": num_train}
        self.sizes = {"train": num_train, "test": num_test}

    def records(self, split):
        return channel_major_records(self.sizes[split], self.offset[split])

    def images(self, split):
        return known_images(self.sizes[split], self.offset[split]).astype(np.uint8)

    def python(self, name="cifar-100-python.tar.gz", coarse=None):
        coarse = coarse or self.coarse
        members = {f"cifar-100-python/{split}": python_batch(self.records(split), self.fine[split],
                                                             coarse[split])
                   for split in ("train", "test")}
        members["cifar-100-python/meta"] = pickle.dumps(
            {b"fine_label_names": [n.encode() for n in self.hierarchy.class_names["fine"]],
             b"coarse_label_names": [n.encode() for n in self.hierarchy.class_names["coarse"]]},
            protocol=2)
        return write_tar_gz(self.folder / name, members)

    def binary(self, name="cifar-100-binary.tar.gz", coarse=None):
        coarse = coarse or self.coarse
        members = {f"cifar-100-binary/{split}.bin": binary_batch(self.records(split),
                                                                 self.fine[split], coarse[split])
                   for split in ("train", "test")}
        members["cifar-100-binary/fine_label_names.txt"] = "\n".join(
            self.hierarchy.class_names["fine"]).encode()
        return write_tar_gz(self.folder / name, members)


def idx_bytes(array):
    """`array` as an idx file of unsigned bytes (the format of the MNIST files)."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion_mnist_folder(folder, train=40, test=20):
    """Writes the four Fashion-MNIST idx .gz files, with `train` and `test` made-up images."""
    from mtl_keras.data.datasets import fashion_mnist

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for (images_name, labels_name), count in zip(fashion_mnist._FILES.values(), (train, test)):
        labels = rng.integers(0, 10, count)
        images = (labels[:, None, None] * 25 + rng.integers(0, 5, (count, 28, 28))).astype(np.uint8)
        (folder / images_name).write_bytes(gzip.compress(idx_bytes(images)))
        (folder / labels_name).write_bytes(gzip.compress(idx_bytes(labels)))
    return folder


def fit_briefly(tasks, trunk, train, epochs, batch_size=128):
    """Returns a `trunk` model with heads `tasks`, trained on the `train` Split for `epochs`
    (AdamW at 0.002, constant, no augmentation): the tests' short runs on real images."""
    from mtl_keras import config as config_lib
    from mtl_keras.data import pipeline
    from mtl_keras.data import source
    from mtl_keras.models import build
    from mtl_keras.training import compile as compile_lib
    from mtl_keras.training import optimizers

    config = config_lib.Config(optimizer="adamw", learning_rate=2e-3, weight_decay=0.0,
                               schedule="constant", warmup_epochs=0, epochs=epochs,
                               batch_size=batch_size)
    mean, std = source.channel_statistics(train.images)
    model = build.build_model(tasks, trunk, train.images.shape[1:], mean, std)
    compile_lib.compile_model(model, tasks, optimizers.make_optimizer(config, len(train) // batch_size),
                              {task.name: 1.0 for task in tasks}, jit_compile=False)
    model.fit(pipeline.make_dataset(train, batch_size, training=True, augment=False),
              epochs=epochs, verbose=0, shuffle=False)
    return model


# --------------------------------------------------------------------------- output checks

def error_lines(stderr):
    """The non-empty lines of `stderr` without TensorFlow's and absl's start-up log lines."""
    return [line for line in stderr.splitlines()
            if line.strip() and not _is_tf_log_line(line)
            and not line.startswith("WARNING: All log messages before absl::InitializeLog()")]


def _is_tf_log_line(line):
    # e.g. "I0000 00:00:1795464895.572111    4038 port.cc:153] oneDNN custom operations ..."
    return re.match(r"[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ", line) is not None


# --------------------------------------------------------------------------- the train command

class TrainFlags:
    """The train command's own flags (`mtl_keras.cli.train.FLAGS`) as a test sets them:
    called with argv, it parses them from their defaults; `main()` then runs the command on
    the same arguments (SystemExit with its status when that is not 0), `config()` gives
    the `Config` they describe."""

    def __init__(self):
        from mtl_keras.cli import train

        self._command = train
        self.argv = ["prog"]

    def __call__(self, argv):
        self.argv = list(argv)
        self._command.FLAGS.unparse_flags()
        return self._command.FLAGS(self.argv)

    def __getattr__(self, name):  # flag values, unparse_flags, ...
        return getattr(self._command.FLAGS, name)

    def __getitem__(self, name):
        return self._command.FLAGS[name]

    def config(self):
        from mtl_keras.cli import training_flags

        return training_flags.to_config(self._command.FLAGS)

    def main(self):
        import keras

        keras.backend.clear_session(free_memory=False)
        status = self._command.main(self.argv)
        if status:
            raise SystemExit(status)


def run_main(run_flags, *flags):
    """Runs the train command on `flags` in this process; returns its exit status.
    `run_flags` is the fixture of the same name (a `TrainFlags`)."""
    run_flags(["prog", *flags])
    try:
        run_flags.main()
    except SystemExit as exit_info:
        return exit_info.code
    return 0


def refusal(run_flags, capsys, workdir, *flags):
    """Runs the entry point on `flags` into `workdir`, checks that it refused them the
    way bad input is refused (exit status 2, one `error:` line, no traceback, no
    workdir) and returns that line without its `error: ` prefix."""
    status = run_main(run_flags, *flags, f"--workdir={workdir}")
    out, err = capsys.readouterr()
    lines = error_lines(err)
    assert status == 2, (status, err[-2000:])
    assert "Traceback" not in out + err
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert not workdir.exists()
    return lines[0][len("error: "):]


# --------------------------------------------------------------------------- clusters

def free_ports(count):
    """`count` TCP ports of the loopback interface that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def register_for_test(monkeypatch, registry, name, obj):
    """Registers `obj` under `name` in a registry of the package until the test ends."""
    from mtl_keras import registry as registry_lib

    entry = registry_lib.Entry(name, obj, f"{name} (made by a test)", {}, "tests")
    monkeypatch.setitem(registry._entries, name, entry)  # noqa: SLF001


def terminate_once_started(study, run_folders, seconds=120):
    """Waits until every run folder holds config.json (its run started), then sends SIGTERM
    to the `study` process; returns the study's exit status."""
    import signal  # noqa: PLC0415
    import time  # noqa: PLC0415

    deadline = time.time() + seconds
    while time.time() < deadline and not all(
            (folder / "config.json").exists() for folder in run_folders):
        time.sleep(0.1)
    time.sleep(0.5)  # the runs' signal handlers are set
    study.send_signal(signal.SIGTERM)
    return study.wait(timeout=60)
