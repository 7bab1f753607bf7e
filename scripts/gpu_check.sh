#!/usr/bin/env bash
# The GPU check (docs/gpu_check.md): the CNN on the standard protocol (60,000 → 10,000) with the
# torch and the JAX backends, VGG16 (--weights none, 224×224, 6,000 images, 10 epochs) with the
# feature cache on and off, and the GPU read through NVML (the results' `system` section).
#
#   scripts/gpu_check.sh OUTDIR [--cpu] [--quick] [--wheels DIR] [--data-dir DIR]
#                               [--vgg-backend torch|jax] [--budget SECONDS] [--runs-dir DIR]
#
# OUTDIR gets at most 7 files: <run>.json (each run's --json result), table.md (one row per
# run), system.txt (machine, GPUs, the system line, what was installed), log.txt (every run's
# output). Exit status: 0 when every run finished (and, on a GPU, ran on it); 1 otherwise;
# 2 bad usage or a machine that cannot run the check at all.
#
# --wheels DIR  a folder made by scripts/gpu_wheels.sh (DIR/wheels/*.whl, DIR/mnist): installs
#               what this Python lacks, offline, into a temporary folder on PYTHONPATH (the
#               GPU machine's python3 is itself a venv, so a nested venv would not see its
#               torch and JAX); DIR/mnist is the data unless --data-dir says otherwise.
#               Without it: this repo's .venv (else python3) as it is.
# --cpu         the same runs cut to a few hundred images and one epoch (~2 minutes on 2 cores),
#               on --data-dir if given, else the bundled digits; no GPU is required.
# --quick       on a GPU: 2 epochs each and 2,000 scored VGG16 images (a first try, ~3 min).
set -uo pipefail

usage() {
  echo "usage: $0 OUTDIR [--cpu] [--quick] [--wheels DIR] [--data-dir DIR]" \
       "[--vgg-backend torch|jax] [--budget SECONDS] [--runs-dir DIR]" >&2
  exit 2
}
[[ $# -ge 1 && $1 != -* ]] || usage
OUT=$1; shift
CPU=0; QUICK=0; WHEELS=""; DATA=""; VGG_BACKEND=""; BUDGET=""; RUNS=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --cpu) CPU=1; shift ;;
    --quick) QUICK=1; shift ;;
    --wheels) WHEELS=${2:?}; shift 2 ;;
    --data-dir) DATA=${2:?}; shift 2 ;;
    --vgg-backend) VGG_BACKEND=${2:?}; shift 2 ;;
    --budget) BUDGET=${2:?}; shift 2 ;;
    --runs-dir) RUNS=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
abspath() { mkdir -p "$1" && (cd "$1" && pwd); }
OUT=$(abspath "$OUT") || usage
rm -f "$OUT"/*.json "$OUT/table.md" "$OUT/system.txt" "$OUT/log.txt"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RUNS=${RUNS:+$(abspath "$RUNS")}
RUNS=${RUNS:-$WORK/runs}
LOG=$OUT/log.txt
SYS=$OUT/system.txt
: >"$LOG"
say() { echo "$*" | tee -a "$LOG" >&2; }

# -- the Python that runs the check ------------------------------------------------------------
if [[ -n $WHEELS ]]; then
  WHEELS=$(cd "$WHEELS" && pwd) || { echo "error: no folder $WHEELS" >&2; exit 2; }
  PY=${PYTHON:-python3}
  [[ -z $DATA && -d $WHEELS/mnist ]] && DATA=$WHEELS/mnist
  SITE=$WORK/site
  # what this Python lacks (or holds older, for pure-Python wheels): binary wheels never
  # shadow a package that is there (h5py, ml-dtypes… are built against its numpy and JAX)
  mapfile -t wanted < <("$PY" - "$WHEELS"/wheels/*.whl <<'EOF'
import importlib.metadata as md
import os
import sys

def key(v):
    try:
        from packaging.version import Version
        return Version(v)
    except Exception:
        return tuple(int(p) if p.isdigit() else 0 for p in v.split("."))

wheels = {}
for path in sys.argv[1:]:
    dist, version, *_, tag = os.path.basename(path)[:-4].split("-")
    wheels[dist.replace("_", "-").lower()] = (path, version, tag == "any")
take = set()
for dist, (path, version, pure) in wheels.items():
    try:
        have = md.version(dist)
    except md.PackageNotFoundError:
        have = None
    if dist == "mnist-tui" or have is None or (pure and key(have) < key(version)):
        take.add(dist)
        why = "missing" if have is None else f"has {have}"
    else:
        why = f"kept {have}"
    print(f"# {dist} {version}: {'install' if dist in take else 'skip'} ({why})")
if "pydantic" in take:      # pydantic pins its core exactly
    take.add("pydantic-core")
for dist in sorted(take):
    print(wheels[dist][0])
EOF
  )
  printf '%s\n' "${wanted[@]}" | grep '^#' | tee -a "$LOG" >&2
  mapfile -t files < <(printf '%s\n' "${wanted[@]}" | grep -v '^#')
  if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --target "$SITE" "${files[@]}" >>"$LOG" 2>&1; then
    echo "error: installing the wheels of $WHEELS failed (log: $LOG)" >&2; exit 2
  fi
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
  cd "$WORK"            # run the installed mnist-tui, not a source tree in the working folder
else
  PY=${PYTHON:-$ROOT/.venv/bin/python}
  [[ -x $PY ]] || PY=python3
fi
has() { "$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('$1') is None)" 2>/dev/null; }
if ! "$PY" -c "import mnist_tui.cli, pydantic, platformdirs" >>"$LOG" 2>&1 || ! has keras; then
  echo "error: $PY cannot import mnist-tui, Keras, pydantic or platformdirs (log: $LOG)" >&2
  exit 2
fi

# -- the machine -------------------------------------------------------------------------------
{
  echo "# system ($(date -u +%Y-%m-%dT%H:%M:%SZ), mode: $( ((CPU)) && echo cpu || echo gpu)$( ((QUICK)) && echo ', quick'))"
  echo "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
  "$PY" - <<'EOF'
import importlib.metadata as md
names = ["mnist-tui", "keras", "torch", "jax", "jaxlib", "numpy", "nvidia-ml-py", "pydantic"]
found = []
for n in names:
    try:
        found.append(f"{n} {md.version(n)}")
    except md.PackageNotFoundError:
        found.append(f"{n}: not installed")
print("packages: " + ", ".join(found))
# the system line the batch and the Monitor show, read the same way (NVML through pynvml)
import os
from mnist_tui.engine.runs import sysmon
proc = sysmon.ProcMonitor(os.getpid()).sample()
print("system line: " + sysmon.format_system(proc, sysmon.gpus(), sysmon.gpu_status()))
EOF
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 \
      | sed 's/^/nvidia-smi: /'
  else
    echo "nvidia-smi: not found"
  fi
} >"$SYS" 2>&1
cat "$SYS" >&2

# -- the runs ----------------------------------------------------------------------------------
if [[ -z $VGG_BACKEND ]]; then
  if has torch; then VGG_BACKEND=torch; else VGG_BACKEND=jax; fi
fi
if ((CPU)); then
  data=(--dataset digits); [[ -n $DATA ]] && data=(--data-dir "$DATA")
  CNN=(--samples 600 --epochs 1 --eval-samples 200)
  VGG=(--weights none --input-size 32 --samples 300 --epochs 1 --eval-samples 100)
  caps=(300 300 300 300); BUDGET=${BUDGET:-1200}
else
  [[ -n $DATA ]] || { echo "error: the GPU check needs the whole MNIST: --data-dir or --wheels DIR with DIR/mnist" >&2; exit 2; }
  data=(--dataset mnist --data-dir "$DATA")
  CNN=(); VGG=(--weights none --input-size 224 --samples 6000 --epochs 10)
  ((QUICK)) && CNN=(--epochs 2) && VGG=(--weights none --input-size 224 --samples 6000 --epochs 2 --eval-samples 2000)
  caps=(150 150 150 240); BUDGET=${BUDGET:-500}
fi
names=(cnn-torch cnn-jax "vgg16-$VGG_BACKEND-cache" "vgg16-$VGG_BACKEND-nocache")
PLAN=$WORK/plan.tsv
: >"$PLAN"
start=$SECONDS
for i in 0 1 2 3; do
  name=${names[$i]}
  case $i in
    0) job=cnn; backend=torch; args=("${CNN[@]}") ;;
    1) job=cnn; backend=jax; args=("${CNN[@]}") ;;
    2) job=vgg16; backend=$VGG_BACKEND; args=("${VGG[@]}" --feature-cache) ;;
    3) job=vgg16; backend=$VGG_BACKEND; args=("${VGG[@]}" --no-feature-cache) ;;
  esac
  left=$((BUDGET - (SECONDS - start)))
  cap=$(( caps[i] < left ? caps[i] : left ))
  if ! has "$backend"; then
    printf '%s\t%s\t%s\t-\t%s\n' "$name" "$job" "$backend" "$backend: not installed" >>"$PLAN"
    say "== $name: skipped ($backend: not installed)"
    continue
  fi
  if ((cap < 20)); then
    printf '%s\t%s\t%s\t-\t%s\n' "$name" "$job" "$backend" "no time left (budget ${BUDGET}s)" >>"$PLAN"
    say "== $name: skipped (no time left of the ${BUDGET}s budget)"
    continue
  fi
  cmd=("$PY" -m mnist_tui --batch --job "$job" --backend "$backend" "${data[@]}" "${args[@]}"
       --runs-dir "$RUNS" --json "$OUT/$name.json")
  say "== $name (timeout ${cap}s): ${cmd[*]:1}"
  t0=$SECONDS
  timeout --signal=INT --kill-after=30 "$cap" "${cmd[@]}" >>"$LOG" 2>&1
  rc=$?
  note=""; ((rc == 124 || rc == 137)) && note="timed out after ${cap}s"
  say "== $name: exit $rc after $((SECONDS - t0))s${note:+ ($note)}"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$job" "$backend" "$rc" "$note" >>"$PLAN"
done

# -- the table ---------------------------------------------------------------------------------
"$PY" - "$OUT" "$PLAN" "$CPU" <<'EOF'
import json
import sys
from pathlib import Path

out, plan, cpu = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"


def num(value, fmt):
    return format(value, fmt) if isinstance(value, (int, float)) else "–"


def gib(n):
    return f"{n / 2**30:.1f} GiB" if isinstance(n, (int, float)) else "–"


rows, failed = [], []
for line in plan.read_text().splitlines():
    name, job, backend, rc, note = (line.split("\t") + [""] * 5)[:5]
    row = {"run": name, "job": job, "backend": backend}
    path = out / f"{name}.json"
    if rc == "-":                       # skipped before it ran
        rows.append({**row, "status": note})
        if not cpu or "not installed" not in note:
            failed.append(f"{name}: {note}")
        continue
    try:
        res = json.loads(path.read_text())
    except (OSError, ValueError):
        rows.append({**row, "status": note or f"no result (exit {rc})"})
        failed.append(f"{name}: {note or f'no result (exit {rc})'}")
        continue
    details = res.get("details") or {}
    system = res.get("system") or {}
    gpus = [g for g in system.get("gpus") or [] if isinstance(g, dict)]
    devices = res.get("devices") or []
    on_gpu = bool(gpus) and any("GPU" in str(d).upper() for d in devices)
    hist = [h.get("seconds") for h in res.get("history") or [] if isinstance(h, dict)]
    hist = [s for s in hist if isinstance(s, (int, float))]
    rest = hist[1:] or hist
    timings = res.get("timings") or {}
    g = gpus[0] if gpus else {}
    status = str(res.get("status"))
    problems = []
    if status != "finished":
        problems.append(f"status {status}" + (f" ({note})" if note else ""))
    if status == "finished" and ((res.get("spec") or {}).get("backend") != backend
                                 or not str(details.get("backend", "")).startswith(backend)):
        problems.append(f"backend {details.get('backend')!r}, not {backend}")
    if not cpu and not on_gpu:
        problems.append("not on a GPU (devices %s; NVML: %s)"
                        % (devices, system.get("gpu_status") or "no GPU listed"))
    cache = details.get("feature_cache")
    rows.append({
        **row,
        "cache": "–" if cache is None else ("on" if cache else "off"),
        "device": g.get("name") if on_gpu else "CPU",
        "epochs": len(hist),
        "s/epoch": num(sum(rest) / len(rest), ".1f") if rest else "–",
        "1st epoch": num(hist[0], ".1f") if hist else "–",
        "train s": num(timings.get("training"), ".1f"),
        "total s": num(timings.get("total"), ".1f"),
        "test acc": num((res.get("metrics") or {}).get("accuracy"), ".4f"),
        "GPU mem peak": gib(g.get("process_memory_peak_bytes") or g.get("memory_used_peak_bytes")),
        "GPU util": num(g.get("util_percent_mean"), ".0f") + ("%" if g else ""),
        "status": "; ".join(problems) or "finished",
    })
    if problems:
        failed.append(f"{name}: " + "; ".join(problems))

cols = ["run", "job", "backend", "cache", "device", "epochs", "s/epoch", "1st epoch",
        "train s", "total s", "test acc", "GPU mem peak", "GPU util", "status"]
lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
lines += ["| " + " | ".join(str(r.get(c, "–")) for c in cols) + " |" for r in rows]
text = "\n".join(lines) + "\n"
(out / "table.md").write_text(text)
print(text)
for f in failed:
    print("FAILED " + f)
sys.exit(1 if failed else 0)
EOF
rc=$?
echo "results in $OUT (table.md, system.txt, log.txt, one .json per run)" >&2
exit $rc
