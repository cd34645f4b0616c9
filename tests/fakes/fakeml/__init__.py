"""A stand-in ML framework for engine tests: estimators with fit, a train function, a metric."""

from fakeml.models import Boom, Estimator, Linear, Pipeline, Plain, SuperChain, Threaded, score, train

__all__ = ["Boom", "Estimator", "Linear", "Pipeline", "Plain", "SuperChain", "Threaded", "score", "train"]
__version__ = "1.0"
