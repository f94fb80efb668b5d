"""nbsvm-ensemble: the average of a word-n-gram and a character-n-gram `NBSVMClassifier`.

Saved as a folder holding each member's own NBSVM folder (``member-0-word``, ``member-1-char``)
and ``ensemble.json``, which names them; no pickle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lexiclass.atomic import write_json
from lexiclass.errors import LexiclassError
from lexiclass.models.checks import check_fitted, check_labels, check_texts
from lexiclass.models.classifier import TextClassifier, sklearn_class_weight
from lexiclass.models.nbsvm import DEFAULT_CHUNK, FORMAT_VERSION, READABLE_VERSIONS, NBSVMClassifier
from lexiclass.models.persistence import read_meta, saved_params

ENSEMBLE_FORMAT = "lexiclass-nbsvm-ensemble"
ENSEMBLE_FILE = "ensemble.json"


class NBSVMEnsembleClassifier(TextClassifier):
    """Average of a word-n-gram NBSVM and a character-n-gram NBSVM, one classifier to the user.

    The two members see the text differently: word 1-3-grams capture phrases ("not
    even funny"), character 3-6-grams across word boundaries capture sub-word and
    spelling cues ("terrrrible", "8/10", "un-watchable") and are robust to typos. Their
    errors are partly independent, so averaging their probabilities beats either
    alone (on IMDB validation: word 92.3%, char 92.0%, average 92.6%). Each member is
    an `NBSVMClassifier`, so multi-class and the NB ratio work as described there.

    Parameters: ``word_ngrams``, ``word_c``, ``word_min_df`` for the word member;
    ``char_min_n``, ``char_ngrams``, ``char_c``, ``char_min_df`` for the character
    member; ``nb_alpha``, ``normalize``, ``max_features``, ``max_iter``, ``seed``,
    ``min_abs_ratio``, ``solver``, ``chunk_size`` for both; with ``batched-lbfgs`` the members
    are fitted one after the other, each using ``n_jobs`` threads; with the other solvers
    ``n_jobs`` threads run the fits of both members together (the largest first).
    """

    def __init__(self, word_ngrams: int = 3, word_c: float = 100.0, word_min_df: int = 2, char_min_n: int = 3,
                 char_ngrams: int = 6, char_c: float = 100.0, char_min_df: int = 3, nb_alpha: float = 1.0,
                 normalize: bool = True, max_features: int | None = 2_000_000, max_iter: int = 1000,
                 seed: int = 1337, min_abs_ratio: float = 0.0, solver: str = "batched-lbfgs", n_jobs: int | None = None,
                 chunk_size: int = DEFAULT_CHUNK, class_weight: str | None = None):
        self.word_ngrams = word_ngrams
        self.word_c = word_c
        self.word_min_df = word_min_df
        self.char_min_n = char_min_n
        self.char_ngrams = char_ngrams
        self.char_c = char_c
        self.char_min_df = char_min_df
        self.nb_alpha = nb_alpha
        self.normalize = normalize
        self.max_features = max_features
        self.max_iter = max_iter
        self.seed = seed
        self.min_abs_ratio = min_abs_ratio
        self.solver = solver
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size
        self.class_weight = class_weight

    @classmethod
    def from_config(cls, config) -> "NBSVMEnsembleClassifier":
        """Hyperparameters from a `lexiclass.config.TrainConfig`: ``nb_*`` and ``linear_c`` for the word
        member, ``char_*`` for the character member."""
        return cls(word_ngrams=config.nb_ngrams, word_c=config.linear_c, word_min_df=config.nb_min_df,
                   char_min_n=config.char_min_n, char_ngrams=config.char_ngrams, char_c=config.char_linear_c,
                   char_min_df=config.char_min_df, nb_alpha=config.nb_alpha, normalize=config.nb_normalize,
                   max_features=config.max_ngram_features, max_iter=config.linear_max_iter, seed=config.seed,
                   class_weight=sklearn_class_weight(config))

    def _new_members(self) -> list[NBSVMClassifier]:
        shared = dict(nb_alpha=self.nb_alpha, normalize=self.normalize, max_features=self.max_features,
                      max_iter=self.max_iter, seed=self.seed, min_abs_ratio=self.min_abs_ratio, solver=self.solver, n_jobs=self.n_jobs,
                      chunk_size=self.chunk_size, class_weight=self.class_weight)
        return [NBSVMClassifier(analyzer="word", ngrams=self.word_ngrams, linear_c=self.word_c,
                                min_df=self.word_min_df, **shared),
                NBSVMClassifier(analyzer="char", char_min_n=self.char_min_n, ngrams=self.char_ngrams,
                                linear_c=self.char_c, min_df=self.char_min_df, **shared)]

    def fit(self, texts, labels, validation=None) -> "NBSVMEnsembleClassifier":
        members = self._new_members()
        for member in members:  # check every member's settings before the first long fit
            member.check_params()
        texts = check_texts(texts)
        check_labels(labels, len(texts))
        # Count both members first, then run all their fits in one pool of threads.
        jobs = [member.prepare_fit(texts, labels) for member in members]
        from lexiclass.models.fit_jobs import run_jobs  # deferred, with numba and SciPy: prediction needs neither

        run_jobs(members, jobs, self.n_jobs)
        del jobs
        self.members_ = members
        self.classes_ = self.members_[0].classes_
        return self

    def _check_fitted(self) -> None:
        check_fitted(self, "members_")

    @property
    def multi_label_(self) -> bool:
        """Whether the members learned several labels per text (independent probabilities)."""
        self._check_fitted()
        return self.members_[0].multi_label_

    def warm_up(self) -> None:
        for member in self.members_:
            member.warm_up()

    def predict_proba(self, texts) -> np.ndarray:
        self._check_fitted()
        texts = check_texts(texts)
        # Arithmetic mean of probabilities: rows still sum to 1, and on IMDB validation it
        # matched averaging log-odds (unnormalised members: 92.34% both) without per-member scaling.
        return np.mean([member.predict_proba(texts) for member in self.members_], axis=0)

    def save(self, directory) -> Path:
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        names = [f"member-{i}-{member.analyzer}" for i, member in enumerate(self.members_)]
        for name, member in zip(names, self.members_):
            member.save(directory / name)
        meta = {"format": ENSEMBLE_FORMAT, "version": FORMAT_VERSION, "class": type(self).__name__,
                "members": names, "hyperparameters": self.get_params()}
        write_json(directory / ENSEMBLE_FILE, meta)
        return directory

    @classmethod
    def load(cls, directory) -> "NBSVMEnsembleClassifier":
        directory = Path(directory)
        meta = read_meta(directory / ENSEMBLE_FILE, ENSEMBLE_FORMAT, "NBSVM ensemble", READABLE_VERSIONS)
        model = cls(**saved_params(meta, directory / ENSEMBLE_FILE, cls))
        names = meta.get("members")
        if not isinstance(names, list) or not names or not all(
                isinstance(n, str) and n and Path(n).name == n and n not in (".", "..") for n in names):
            raise LexiclassError(f"{directory / ENSEMBLE_FILE}: 'members' must list member folder names")
        model.members_ = [NBSVMClassifier.load(directory / name) for name in names]
        if len({len(member.classes_) for member in model.members_}) != 1:
            raise LexiclassError(f"{directory}: the ensemble's members disagree on the number of classes")
        model.classes_ = model.members_[0].classes_
        return model
