"""Request complexity classifier: calibrated `difficulty` and `reasoning` scores for routing.

Importing this package is cheap: torch, sentence-transformers and onnxruntime load only in
`RoutingClassifier.load`. See classifier/README.md for the data format, training and evaluation.
"""

from classifier.model import ArtifactError
from classifier.service import RoutingClassifier, Scores

__all__ = ["ArtifactError", "RoutingClassifier", "Scores"]
