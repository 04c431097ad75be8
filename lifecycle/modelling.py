"""The churn model's numerics (scikit-learn and numpy, no database): fitting, metrics, contributions.

- ``fit_candidates``: HistGradientBoosting (the model we deploy), RandomForest and logistic
  regression, each calibrated with a sigmoid fitted on 3-fold out-of-fold predictions
  (``CalibratedClassifierCV(ensemble=False)``: one final model refit on all training rows plus
  one monotone mapping of its raw output, so the reasons explain the deployed model itself).
- ``metrics``: ROC AUC, PR AUC, Brier score, lift and precision in the top decile, a reliability
  table for the calibration chart.
- ``path_contributions``: per-prediction contributions over the boosted trees (Saabas path
  attribution): each split's contribution is the change of the node's expected value along the
  customer's path, assigned to the split feature. Expected node values are recomputed from the
  leaves, weighted by training counts. For every customer
  ``bias + contributions.sum() == decision_function(x)`` (the model's raw log-odds) up to
  floating point; tests/lifecycle checks it.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

HGB = "hist_gradient_boosting"
RANDOM_FOREST = "random_forest"
LOGISTIC = "logistic_regression"
ALGORITHMS = (HGB, RANDOM_FOREST, LOGISTIC)
RANDOM_STATE = 42
CALIBRATION_FOLDS = 3
KFOLD_SPLITS = 5
CALIBRATION_BINS = 10


def estimator_for(algorithm: str):
    """The uncalibrated estimator of an algorithm, with the settings we use."""
    if algorithm == HGB:
        return HistGradientBoostingClassifier(
            learning_rate=0.06, max_iter=300, max_leaf_nodes=31, min_samples_leaf=40, l2_regularization=1.0,
            early_stopping=True, validation_fraction=0.15, n_iter_no_change=20, random_state=RANDOM_STATE,
        )
    if algorithm == RANDOM_FOREST:
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            RandomForestClassifier(n_estimators=200, min_samples_leaf=20, max_features="sqrt", n_jobs=1,
                                   random_state=RANDOM_STATE),
        )
    if algorithm == LOGISTIC:
        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler(),
            LogisticRegression(max_iter=2000, C=0.5),
        )
    raise ValueError(algorithm)


def fit_calibrated(algorithm: str, X: np.ndarray, y: np.ndarray) -> CalibratedClassifierCV:
    """Fit one algorithm and its sigmoid calibration (one final model, not an ensemble)."""
    model = CalibratedClassifierCV(estimator_for(algorithm), method="sigmoid", cv=CALIBRATION_FOLDS,
                                   ensemble=False)
    # A feature never recorded in this population (all missing) is constant 0 for the fit: no
    # split uses it, so later values change nothing (HistGradientBoosting cannot bin it at all).
    never_known = np.isnan(X).all(axis=0)
    if never_known.any():
        X = X.copy()
        X[:, never_known] = 0.0
    # One thread: OpenMP's default (a thread per core) oversubscribes a host running several
    # workers and made a 5,000-row fit 70x slower; Celery scales out by processes instead.
    with threadpool_limits(limits=1):
        return model.fit(X, y)


def base_estimator(model: CalibratedClassifierCV):
    """The fitted model inside the calibration wrapper (whose raw output the reasons explain)."""
    return model.calibrated_classifiers_[0].estimator


def probabilities(model: CalibratedClassifierCV, X: np.ndarray) -> np.ndarray:
    with threadpool_limits(limits=1):
        return model.predict_proba(X)[:, 1]


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """ROC AUC, PR AUC, Brier score, lift and precision in the top decile, base rate."""
    y = np.asarray(y)
    p = np.asarray(p)
    base_rate = float(y.mean()) if len(y) else 0.0
    result = {"customers": len(y), "positives": int(y.sum()), "base_rate": round(base_rate, 4)}
    if len(np.unique(y)) < 2:
        return {**result, "roc_auc": None, "pr_auc": None, "brier": None, "top_decile_precision": None,
                "top_decile_lift": None}
    top = max(1, int(np.ceil(len(p) / 10)))
    order = np.argsort(-p, kind="stable")[:top]
    precision = float(y[order].mean())
    return {
        **result,
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "pr_auc": round(float(average_precision_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "top_decile_precision": round(precision, 4),
        "top_decile_lift": round(precision / base_rate, 3) if base_rate else None,
    }


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> list[list[float]]:
    """[[mean predicted, observed churn rate, customers], ...] over equal-width probability bins."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            table.append([round(float(p[mask].mean()), 4), round(float(y[mask].mean()), 4), int(mask.sum())])
    return table


def kfold_predictions(algorithm: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Out-of-fold calibrated probabilities over stratified 5-fold (when history is too short)."""
    folds = StratifiedKFold(n_splits=KFOLD_SPLITS, shuffle=True, random_state=RANDOM_STATE)
    p = np.zeros(len(y))
    for train, test in folds.split(X, y):
        p[test] = probabilities(fit_calibrated(algorithm, X[train], y[train]), X[test])
    return p


def library_versions() -> dict:
    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- Per-prediction contributions (Saabas path attribution over the boosted trees) ------------


@dataclass(frozen=True)
class _Tree:
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    expected: np.ndarray  # count-weighted expected value of every node (a leaf: its value)


def _expected_values(nodes) -> np.ndarray:
    """Each node's expected output: leaves keep their value, an inner node the count-weighted mean."""
    expected = nodes["value"].astype(np.float64).copy()
    # Children always have larger indices than their parent in the predictor arrays: go backwards.
    for index in range(len(nodes) - 1, -1, -1):
        if not nodes["is_leaf"][index]:
            left, right = nodes["left"][index], nodes["right"][index]
            n_left, n_right = float(nodes["count"][left]), float(nodes["count"][right])
            total = n_left + n_right
            expected[index] = ((n_left * expected[left] + n_right * expected[right]) / total if total
                               else 0.5 * (expected[left] + expected[right]))
    return expected


def _trees(hgb: HistGradientBoostingClassifier) -> list[_Tree]:
    cached = getattr(hgb, "_crm_trees", None)
    if cached is not None:
        return cached
    trees = []
    for predictors in hgb._predictors:
        nodes = predictors[0].nodes
        if nodes["is_categorical"].any():
            raise ValueError("categorical splits are not supported")
        trees.append(_Tree(
            feature=nodes["feature_idx"].astype(np.int64), threshold=nodes["num_threshold"].astype(np.float64),
            missing_left=nodes["missing_go_to_left"].astype(bool), left=nodes["left"].astype(np.int64),
            right=nodes["right"].astype(np.int64), is_leaf=nodes["is_leaf"].astype(bool),
            expected=_expected_values(nodes),
        ))
    hgb._crm_trees = trees
    return trees


def path_contributions(hgb: HistGradientBoostingClassifier, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (bias per row, contributions rows x features); their sum is the raw output per row."""
    X = np.asarray(X, dtype=np.float64)
    n, width = X.shape
    contributions = np.zeros((n, width))
    bias = np.full(n, float(np.ravel(hgb._baseline_prediction)[0]))
    rows = np.arange(n)
    for tree in _trees(hgb):
        node = np.zeros(n, dtype=np.int64)
        bias += tree.expected[0]
        active = ~tree.is_leaf[node]
        while active.any():
            current = node[active]
            feature = tree.feature[current]
            values = X[rows[active], feature]
            missing = np.isnan(values)
            go_left = np.where(missing, tree.missing_left[current], values <= tree.threshold[current])
            child = np.where(go_left, tree.left[current], tree.right[current])
            np.add.at(contributions, (rows[active], feature), tree.expected[child] - tree.expected[current])
            node[active] = child
            active = ~tree.is_leaf[node]
    return bias, contributions
