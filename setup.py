from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="skhypernas",
    version="0.1.0",
    description="Differentiable neural architecture search with complexity control, for scikit-learn",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    packages=find_packages(include=["skhypernas", "skhypernas.*"]),
    python_requires=">=3.10",
    # torch <= 2.14.1 and torchvision <= 0.29.1 admit the builds shipped on this
    # project's machines; newer pins pull multi-GB CUDA wheels.
    install_requires=[
        "torch>=2.2,<=2.14.1",
        "torchvision>=0.17,<=0.29.1",
        "scikit-learn>=1.6",
        "numpy>=1.23",
        "joblib>=1.2",
        "tqdm>=4.60",
        "matplotlib>=3.6",
    ],
    extras_require={
        # onnx + onnxruntime: the ONNX export test; dask[distributed]: the test of the
        # joblib Dask backend that the README shows for spreading a comparison over workers;
        # numpydoc: the test that the public API's docstrings document every parameter.
        "test": [
            "pytest>=7",
            "pandas>=1.5",
            "hypothesis>=6",
            "scipy",
            "onnx>=1.15",
            "onnxruntime>=1.17",
            "dask[distributed]>=2023.1",
            "numpydoc>=1.6",
        ],
        # The Sphinx site: numpydoc API pages, the gallery built from examples/, the
        # user guide kept in Markdown (myst-parser).
        "docs": ["sphinx>=7", "numpydoc>=1.6", "sphinx-gallery>=0.15", "myst-parser>=2", "pandas>=1.5"],
        "onnx": ["onnx>=1.15"],
    },
)
