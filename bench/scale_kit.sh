#!/usr/bin/env bash
# Build the shared scale-out kit (../shared/scale: PostgreSQL 18 and Redis 6.2 from pip wheels, the project as
# `git archive HEAD`, the wheels of what the batch imports) around this checkout's bench/bench_scale.py, for a
# bigger machine that has Python 3.12 with numpy, pandas, scipy and statsmodels but no PostgreSQL, no Redis and
# no network:
#
#   bash bench/scale_kit.sh [KIT=../shared/scale]          (here, after committing: the kit carries HEAD)
#   bash .scalekit/scale/run.sh 5000 1,4,8,14               (there, from the checkout root, .scalekit copied along)
#
# On top of the kit's own prepare.sh: the project's runtime packages its list lacks (the web app's, the vendors'
# rate limiter: Django's set-up imports them; threadpoolctl, which a cluster worker's chunk task imports), at the
# versions of constraints.txt; and the kit's runner replaced by
# bench/bench_scale.py, which takes the same arguments and checks every kind the project registers today (the
# kit's own checks name result kinds since renamed). Rehearsed on the 2-core machine: BENCHMARKS.md, "Issue 19".
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIT=$(cd "${1:-$ROOT/../shared/scale}" && pwd)
pinned() {  # NAME==VERSION as constraints.txt pins it
  local line
  line=$(grep -i -E "^$1==" "$ROOT/constraints.txt" | head -1) || { echo "constraints.txt does not pin $1" >&2; exit 1; }
  echo "$line"
}
bash "$KIT/prepare.sh" "$ROOT" "$(pinned django-htmx)" "$(pinned whitenoise)" "$(pinned pyrate-limiter)" \
  "$(pinned threadpoolctl)"
cp "$ROOT/bench/bench_scale.py" "$ROOT/.scalekit/scale/scale.py"
echo "runner: bench/bench_scale.py (as .scalekit/scale/scale.py)"
