"""Estimators and functions that the fake integrations patch."""

from __future__ import annotations

import threading


class Estimator:
    """Base estimator."""

    def __init__(self, **params):
        self.params = params

    def get_params(self):
        return dict(self.params)

    def fit(self, X, y=None, callbacks=None, epochs=1):
        """Fit on X (base version)."""
        self.coef_ = float(sum(X))
        return self

    @classmethod
    def create(cls, **params):
        return cls(**params)

    @staticmethod
    def helper(x):
        return x * 2


class Linear(Estimator):
    def fit(self, X, y=None, callbacks=None, epochs=1):
        """Fit a line."""
        for epoch in range(epochs):
            for callback in callbacks or ():
                callback(epoch)
        self.coef_ = float(sum(X)) / max(len(X), 1)
        self.epochs_ = epochs
        return self


class Plain(Estimator):
    """Inherits fit from Estimator."""


class SuperChain(Linear):
    def fit(self, X, y=None, callbacks=None, epochs=1):
        return super().fit(X, y, callbacks=callbacks, epochs=epochs)


class Pipeline(Estimator):
    def __init__(self, steps):
        super().__init__(steps=len(steps))
        self.steps = steps

    def fit(self, X, y=None, callbacks=None, epochs=1):
        for step in self.steps:
            step.fit(X, y)
        self.coef_ = sum(s.coef_ for s in self.steps)
        return self


class Boom(Estimator):
    """fit raises whatever error it was given."""

    def __init__(self, error=None, **params):
        super().__init__(**params)
        self.error = error

    def fit(self, X, y=None, callbacks=None, epochs=1):
        raise self.error


class Threaded(Estimator):
    """fit runs work in worker threads, each of which fits an inner estimator."""

    def __init__(self, wrap=None, n=3):
        super().__init__(n=n)
        self.wrap = wrap
        self.n = n

    def fit(self, X, y=None, callbacks=None, epochs=1):
        def work():
            Linear().fit(X)

        task = self.wrap(work) if self.wrap else work
        threads = [threading.Thread(target=task) for _ in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.coef_ = 0.0
        return self


def train(params, data, rounds=10, callbacks=None):
    """Train a booster."""
    for callback in callbacks or ():
        callback(rounds)
    return {"params": params, "rounds": rounds, "n": len(data)}


def score(y_true, y_pred):
    """Mean absolute error."""
    return sum(abs(a - b) for a, b in zip(y_true, y_pred)) / max(len(y_true), 1)
