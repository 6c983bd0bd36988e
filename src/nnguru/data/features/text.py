"""Free text and identifier-like strings as numbers.

``TfidfFeaturizer`` turns a text column (messages, reviews) into TF-IDF features of word and
character n-grams. ``TokenFeaturizer`` handles identifier-like columns (a different value in
every row, such as names or ticket codes): it keeps only the few tokens many rows share, such as
the title "mr"/"mrs"/"miss" in a name, so the model can use them but cannot memorize rows.
Vocabularies are plain lists in the config and IDF weights are arrays in the state: reloading
needs no pickle and gives identical features.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

# Most frequent word uni/bigrams and character 2-4-grams (robust to spelling and "fr33" tricks).
# On SMS spam 2,000 + 1,000 score as well as 3,000 + 3,000 (accuracy 0.989, spam F1 0.96 with a
# linear model) and keep the dense input, and so the network's first layer, half as wide.
WORD_FEATURES = 2000
CHAR_FEATURES = 1000
MIN_DOCS = 2  # an n-gram seen in one training document only is noise (or a memorized row)
TOKEN_SHARE = 0.01  # identifier tokens must appear in at least 1% of training rows
MIN_TOKEN_ROWS = 5
MAX_TOKENS = 20
_TOKEN = re.compile(r"[^\W\d_]+")  # runs of letters: titles, prefixes, deck letters; no numbers

_ANALYZERS = {
    "word": {"analyzer": "word", "ngram_range": (1, 2), "token_pattern": r"(?u)\b\w+\b"},
    "char": {"analyzer": "char_wb", "ngram_range": (2, 4)},
}


class TfidfFeaturizer:
    """TF-IDF (sublinear term frequency, smoothed IDF, unit length per analyzer) of text."""

    def __init__(self, word_features: int = WORD_FEATURES, char_features: int = CHAR_FEATURES):
        self.word_features = int(word_features)
        self.char_features = int(char_features)
        self.vocabulary_: dict[str, list[str]] = {}
        self.idf_: dict[str, np.ndarray] = {}

    def fit(self, texts: list[str]) -> TfidfFeaturizer:
        limits = {"word": self.word_features, "char": self.char_features}
        for name, limit in limits.items():
            if limit <= 0:
                continue
            min_df = MIN_DOCS if len(texts) >= 2 * MIN_DOCS else 1
            vectorizer = CountVectorizer(**_ANALYZERS[name], max_features=limit, min_df=min_df)
            try:
                counts = vectorizer.fit_transform(texts)
            except ValueError:  # no n-gram passed min_df: an empty vocabulary, not an error
                continue
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
            doc_freq = np.bincount(counts.nonzero()[1], minlength=len(terms))
            self.vocabulary_[name] = terms
            self.idf_[name] = (np.log((1 + len(texts)) / (1 + doc_freq)) + 1).astype(np.float32)
        return self

    @property
    def width(self) -> int:
        return sum(len(v) for v in self.vocabulary_.values())

    @property
    def feature_names(self) -> list[str]:
        return [f"{name}:{term}" for name, terms in self.vocabulary_.items() for term in terms]

    def transform(self, texts: list[str]) -> np.ndarray:
        blocks = [np.zeros((len(texts), 0), dtype=np.float32)]
        for name, terms in self.vocabulary_.items():
            vectorizer = CountVectorizer(**_ANALYZERS[name], vocabulary=terms)
            counts = vectorizer.transform(texts).astype(np.float32)
            counts.data = 1.0 + np.log(counts.data)  # sublinear tf, as scikit-learn defines it
            weighted = counts @ sp.diags(self.idf_[name])
            norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1))).ravel()
            weighted = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ weighted
            blocks.append(weighted.toarray().astype(np.float32))
        return np.hstack(blocks)

    def config(self) -> dict:
        return {
            "word_features": self.word_features,
            "char_features": self.char_features,
            "vocabulary": self.vocabulary_,
        }

    def state(self) -> dict[str, np.ndarray]:
        return {f"idf_{name}": idf for name, idf in self.idf_.items()}

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> TfidfFeaturizer:
        featurizer = cls(config["word_features"], config["char_features"])
        featurizer.vocabulary_ = {k: list(v) for k, v in config["vocabulary"].items()}
        featurizer.idf_ = {k: np.asarray(state[f"idf_{k}"], np.float32) for k in featurizer.vocabulary_}
        return featurizer


def tokens(text: str) -> set[str]:
    """Lower-case letter runs of one value: "Braund, Mr. Owen" -> {"braund", "mr", "owen"}."""
    return set(_TOKEN.findall(text.casefold()))


class TokenFeaturizer:
    """0/1 indicators of the tokens shared by many rows of an identifier-like column."""

    def __init__(self, share: float = TOKEN_SHARE, max_tokens: int = MAX_TOKENS):
        self.share = float(share)
        self.max_tokens = int(max_tokens)
        self.tokens_: list[str] = []

    def fit(self, texts: list[str]) -> TokenFeaturizer:
        counts = Counter(token for text in texts for token in tokens(text))
        needed = max(MIN_TOKEN_ROWS, self.share * len(texts))
        frequent = [(t, n) for t, n in counts.items() if n >= needed]
        frequent.sort(key=lambda item: (-item[1], item[0]))
        self.tokens_ = [t for t, _ in frequent[: self.max_tokens]]
        return self

    @property
    def width(self) -> int:
        return len(self.tokens_)

    def transform(self, texts: list[str]) -> np.ndarray:
        index = {t: j for j, t in enumerate(self.tokens_)}
        out = np.zeros((len(texts), len(index)), dtype=np.float32)
        for i, text in enumerate(texts):
            for token in tokens(text):
                j = index.get(token)
                if j is not None:
                    out[i, j] = 1.0
        return out

    def config(self) -> dict:
        return {"share": self.share, "max_tokens": self.max_tokens, "tokens": self.tokens_}

    def state(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> TokenFeaturizer:
        featurizer = cls(config["share"], config["max_tokens"])
        featurizer.tokens_ = list(config["tokens"])
        return featurizer
