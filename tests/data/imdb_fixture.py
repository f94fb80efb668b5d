"""Small archives in the real aclImdb layout, built in memory for tests."""

import io
import tarfile


def review(split: str, label: str, i: int) -> str:
    mood = "wonderful great" if label == "pos" else "awful boring"
    return f"Review {i} of {split}: a {mood} film.<br /><br />Caf\u00e9 scenes, {i} times."


def build_imdb_tar(per_folder: int = 10, unsup: int = 4, short: dict | None = None) -> bytes:
    """``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` plus ``train/unsup``; ``short`` trims a folder."""
    short = short or {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        def add(name, text):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        add("README", "Large Movie Review Dataset (test copy)\n")
        for split in ("train", "test"):
            for label in ("pos", "neg"):
                for i in range(short.get(f"{split}/{label}", per_folder)):
                    rating = 8 if label == "pos" else 2
                    add(f"{split}/{label}/{i}_{rating}.txt", review(split, label, i))
        for i in range(unsup):
            add(f"train/unsup/{i}_0.txt", f"unlabelled review {i} UNSUP_MARKER")
    return buf.getvalue()
