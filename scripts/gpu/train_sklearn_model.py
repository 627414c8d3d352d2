"""Trains a small deterministic scikit-learn regressor and writes an MLServer model folder.

usage: train_sklearn_model.py OUT_DIR MODEL_NAME
Writes OUT_DIR/model.joblib, OUT_DIR/model-settings.json and OUT_DIR/settings.json, and prints
a JSON line with probe inputs and sklearn's own predictions for them, which the test compares
with what the server answers through the kserve-v2 executor.
"""
import json
import os
import sys

import joblib
import numpy as np
from sklearn.linear_model import LinearRegression


def main() -> None:
    out_dir, name = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(7)
    x = rng.uniform(-1.0, 1.0, size=(200, 4)).astype(np.float32)
    y = x @ np.array([1.5, -2.0, 0.25, 3.0], dtype=np.float32) + 0.5
    model = LinearRegression().fit(x, y)
    joblib.dump(model, os.path.join(out_dir, "model.joblib"))
    with open(os.path.join(out_dir, "model-settings.json"), "w") as f:
        json.dump({"name": name, "implementation": "mlserver_sklearn.SKLearnModel",
                   "parameters": {"uri": "./model.joblib", "version": "v1"}}, f)
    with open(os.path.join(out_dir, "settings.json"), "w") as f:
        json.dump({"metrics_endpoint": None, "parallel_workers": 0, "load_models_at_startup": True}, f)
    probe = rng.uniform(-1.0, 1.0, size=(5, 4)).astype(np.float32)
    print(json.dumps({"inputs": probe.tolist(), "predictions": model.predict(probe).tolist()}))


if __name__ == "__main__":
    main()
