#!/usr/bin/env bash
# Prepares what scripts/gpu_check.sh needs on a GPU check machine that has no network:
#   DIR/wheels/  the wheels the machine lacks (Python 3.12, manylinux x86_64), mnist-tui's own
#   DIR/mnist/   the whole MNIST (train + test IDX .gz files), when --data SRC is given
# and checks that DIR plus this working tree stay within the 64 MiB that may travel with it.
#
#   scripts/gpu_wheels.sh DIR [--data SRC] [--python-version 3.12]
#
# The machine has Python 3.12, PyTorch and JAX with CUDA, nvidia-ml-py, numpy, scikit-learn and
# rich (docs/gpu_check.md). The batch's CNN and VGG16 paths import, beyond those, only Keras
# and its small dependencies, pydantic (the result record) and platformdirs (the data cache
# folder): those are fetched here, `--no-deps`, at the versions this venv has. NOT TensorFlow
# (far too large; the check trains on torch and JAX), and not textual, textual-plotext,
# plotext (the TUI only), openTSNE (the t-SNE job only) or jinja2 (the suite report only): the
# batch's CNN and VGG16 paths never import them (docs/gpu_check.md says how that was checked).
set -euo pipefail

usage() { echo "usage: $0 DIR [--data SRC] [--python-version X.Y]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
DIR=$1; shift
DATA=""
PYVER=3.12
while [[ $# -gt 0 ]]; do
  case $1 in
    --data) DATA=${2:?--data needs a folder}; shift 2 ;;
    --python-version) PYVER=${2:?--python-version needs X.Y}; shift 2 ;;
    *) usage ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x $PY ]] || PY=python3
LIMIT=$((64 * 1024 * 1024))

# What travels to the machine: keras and what it needs, pydantic and what it needs,
# platformdirs. Pinned to the versions this venv runs (the tests pass with them).
PACKAGES=(keras namex optree absl-py h5py ml-dtypes packaging
          pydantic pydantic-core annotated-types typing-inspection typing-extensions
          platformdirs)
pins=$("$PY" - "${PACKAGES[@]}" <<'EOF'
import importlib.metadata as md
import sys

for name in sys.argv[1:]:
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        print(name)
EOF
)

mkdir -p "$DIR/wheels"
rm -f "$DIR"/wheels/*.whl
echo "downloading for Python $PYVER manylinux x86_64: $(echo $pins | tr '\n' ' ')"
# pip matches a manylinux_2_N tag exactly: name the ones the wheels above are published with
# shellcheck disable=SC2086
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d "$DIR/wheels" $pins 2> >(grep -v "is ignored: it is neither" >&2)

# mnist-tui itself, built from a copy of the package (the tree is shared and may be busy)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -r "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/mnist_tui" "$build/"
find "$build" -name __pycache__ -prune -exec rm -rf {} +
"$PY" -m pip wheel -q --no-deps --no-build-isolation "$build" -w "$DIR/wheels" \
  || "$PY" -m pip wheel -q --no-deps "$build" -w "$DIR/wheels"

if [[ -n $DATA ]]; then
  mkdir -p "$DIR/mnist"
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz \
           t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [[ -f $DATA/$f ]] || { echo "error: $DATA/$f is missing (the whole MNIST is needed)" >&2; exit 2; }
    cp "$DATA/$f" "$DIR/mnist/$f"
  done
fi

ls -l "$DIR"/wheels/*.whl | awk '{printf "  %9d  %s\n", $5, $NF}'
dir_bytes=$(du -sb "$DIR" | cut -f1)
# the working tree travels too: tracked and untracked-not-ignored files
tree_bytes=$(cd "$ROOT" && git ls-files -z -co --exclude-standard 2>/dev/null \
             | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
total=$((dir_bytes + tree_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "total: $DIR $(mib "$dir_bytes") + working tree $(mib "$tree_bytes") = $(mib "$total")" \
     "(limit $(mib "$LIMIT"))"
if (( total > LIMIT )); then
  echo "error: over the 64 MiB that may travel to the GPU machine" >&2
  exit 1
fi
