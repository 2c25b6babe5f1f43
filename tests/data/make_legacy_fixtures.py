"""Write the format-1 ("legacy") files that ``tests/test_legacy_files.py`` loads.

Run only with the skhypernas version that wrote file format 1 (``FORMAT_VERSION == 1``,
commit f998a80 and before); do not rerun. The files are frozen on purpose: they stand
for models users saved with that version, and the test checks that every later version
still reads them and predicts what they predicted then. Rerunning this script with a
newer version would overwrite them with files of the newer format and silently drop
that check.

Usage, from the repository root::

    OMP_NUM_THREADS=1 python tests/data/make_legacy_fixtures.py
"""

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from skhypernas import ArchitectureClassifier, HyperDARTSClassifier, persistence

HERE = Path(__file__).resolve().parent
TINY = dict(channels=2, n_cells=3, n_nodes=2, max_epochs=1, batch_size=32, random_state=0, path_samples=64)
#: A narrower range than the default (1e-10, 1e-6) gives a path of 15 entries instead of
#: 46: a format-1 file stores each entry's buffers as separate tensors, so this keeps the
#: committed file small.
LAMBDA_RANGE = (1e-8, 1e-6)


def main():
    if persistence.FORMAT_VERSION != 1:
        raise SystemExit(f"this skhypernas writes format {persistence.FORMAT_VERSION}, not 1: do not rerun")
    X, y = load_digits(return_X_y=True)
    X, y = (X[:300] / 16.0).astype(np.float32), y[:300]
    probe = X[:20]

    with tempfile.TemporaryDirectory() as folder:
        # One fit gives both the model and, through checkpoint_dir, the checkpoint.
        search = HyperDARTSClassifier(lambda_range=LAMBDA_RANGE, device="cpu", checkpoint_dir=folder, **TINY).fit(X, y)
        shutil.copyfile(Path(folder) / "search.pt", HERE / "legacy_v1_search_checkpoint.pt")
    search.save(HERE / "legacy_v1_hyperdarts.skh")
    fingerprint = torch.load(HERE / "legacy_v1_search_checkpoint.pt", weights_only=True)["fingerprint"]

    trained = ArchitectureClassifier(search.genotype_, channels=2, max_epochs=1, device="cpu", random_state=0)
    trained.fit(X, y)
    trained.save(HERE / "legacy_v1_architecture.skh")

    expected = {
        "format_version": persistence.FORMAT_VERSION,
        "rows": "load_digits() first 20 rows, divided by 16, as float32",
        "hyperdarts_predict_proba": np.round(search.predict_proba(probe), 6).tolist(),
        "architecture_predict_proba": np.round(trained.predict_proba(probe), 6).tolist(),
        "n_parameters": np.asarray(search.complexity_path_["n_parameters"]).tolist(),
        "genotype": search.genotype_.to_json(),
        "checkpoint_fingerprint": fingerprint,
    }
    (HERE / "legacy_v1_expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
