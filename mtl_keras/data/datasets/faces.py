"""Face images whose labels live in the file name: `<age>_<gender>_<race>_<date>.jpg`.

This is the layout of the widely used UTKFace set. Its documented label meanings:
age is an integer in years (0 to 116); gender is 0 for male and 1 for female; race is
0 White, 1 Black, 2 Asian, 3 Indian, 4 Others (Hispanic, Latino, Middle Eastern). A
name with only `<age>_<gender>_<date>` has an unknown race: that image still trains
the age and gender heads. `--dataset=utkface --image_dir=DIR` reads every image in DIR.
"""

import os
import re

from mtl_keras import errors
from mtl_keras.data import source
from mtl_keras.data.datasets import folder
from mtl_keras.data.labels import task_spec

GENDERS = ("male", "female")
RACES = ("White", "Black", "Asian", "Indian", "Others")
_NAME = re.compile(r"^(\d{1,3})_([01])_(?:([0-4])_)?\d+")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@source.DATASETS.register("utkface",
                         description="faces with age, gender and race in the file names")
def load_utkface(config):
    """Returns the faces in `config.image_dir` with heads age, gender and race."""
    if not config.image_dir:
        raise errors.UserError("--dataset=utkface needs --image_dir=DIR of the face images.")
    if config.tasks or config.tasks_file:
        raise errors.UserError("--dataset=utkface has fixed heads (age, gender, race); "
                               "--tasks and --tasks_file are for --dataset=folder.")
    specs = [task_spec.TaskSpec("age", "regression"),
             task_spec.TaskSpec("gender", "binary", class_names=GENDERS, num_classes=2),
             task_spec.TaskSpec("race", "multiclass", class_names=RACES, num_classes=len(RACES))]
    return folder.build_source("utkface", read_folder(config.image_dir), specs, config)


def read_folder(image_dir):
    """Returns one `folder.Row` per image, with the labels its file name gives."""
    try:
        names = sorted(name for name in os.listdir(image_dir)
                       if name.lower().endswith(_IMAGE_SUFFIXES))
    except FileNotFoundError:
        raise errors.UserError(f"--image_dir={image_dir} does not exist.") from None
    if not names:
        raise errors.UserError(f"--image_dir={image_dir} holds no .jpg or .png image.")
    rows = []
    for name in names:
        match = _NAME.match(name)
        if not match:
            raise errors.UserError(
                f"{os.path.join(image_dir, name)}: the name does not follow "
                f"<age>_<gender>_<race>_<date>.jpg; rename or remove the file.")
        age, gender, race = match.groups()
        cells = {"age": age, "gender": GENDERS[int(gender)],
                 "race": RACES[int(race)] if race is not None else ""}
        rows.append(folder.Row(os.path.join(image_dir, name), os.path.join(image_dir, name), cells))
    return rows
