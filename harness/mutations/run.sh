#!/usr/bin/env bash
# Re-runs the mutation table: for each patch here (or the ones named), apply
# it to a scratch copy of the committed tree (HEAD), build the simulator in
# release, run exactly the CI budget (`sim --ci-budget`), record what it
# found, and revert. The checkout itself is never modified.
#
#   harness/mutations/run.sh                 # every patch, in order
#   harness/mutations/run.sh 07 11           # patches whose name starts so
#   harness/mutations/run.sh --baseline      # also the unmutated tree first
#
# Output: one table row per patch on stdout (and in $OUT, default
# target/mutants/table.txt); per-patch logs in target/mutants/logs/.
# A patch that no longer applies, or a tree that no longer builds with it,
# is reported as such (never skipped silently) and makes the exit status 1;
# so does a mutant the budget does not find.
#
# Environment: MUTANTS_DIR (scratch area, default <repo>/target/mutants;
# delete it when done, it holds a copy of the tree and a release build).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
work="${MUTANTS_DIR:-$repo/target/mutants}"
tree="$work/tree"
logs="$work/logs"
out="${OUT:-$work/table.txt}"
export CARGO_INCREMENTAL=0
export CARGO_TARGET_DIR="$work/target"
# A release build at opt-level 1: the budget runs in seconds either way, and
# twelve rebuilds of the core at opt-level 3 take too long on two cores.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-1}"
# The scratch tree lies inside the checkout (under target/): keep git from
# finding the checkout's repository there, so `git apply` patches the
# scratch files as plain files.
export GIT_CEILING_DIRECTORIES="$work"

baseline=0
selected=()
for arg in "$@"; do
    case "$arg" in
        --baseline) baseline=1 ;;
        *) selected+=("$arg") ;;
    esac
done

patches=()
for p in "$here"/*.patch; do
    name="$(basename "$p" .patch)"
    if [ ${#selected[@]} -eq 0 ]; then
        patches+=("$p")
    else
        for s in "${selected[@]}"; do
            case "$name" in "$s"*) patches+=("$p") ;; esac
        done
    fi
done
if [ ${#patches[@]} -eq 0 ] && [ "$baseline" -eq 0 ]; then
    echo "no patch matches: ${selected[*]}" >&2
    exit 2
fi

# A fresh copy of the committed tree. The same path every run, so cargo
# rebuilds only what a patch touched.
mkdir -p "$work" "$logs"
rm -rf "$tree"
mkdir -p "$tree"
git -C "$repo" archive HEAD | tar -x -C "$tree"
commit="$(git -C "$repo" rev-parse --short HEAD)"

# Runs the CI budget on the scratch tree as it is; prints the summary
# fields "default high first-default first-high what" or a failure word.
run_budget() {
    local log="$1"
    if ! (cd "$tree" && cargo build --release --locked -p harness --bin sim) >"$log.build" 2>&1; then
        echo "BUILD-FAILED"
        return
    fi
    (cd "$tree" && "$CARGO_TARGET_DIR/release/sim" --ci-budget) >"$log" 2>&1 || true
    if ! grep -q '^ci-budget faults=high' "$log"; then
        echo "RUN-FAILED"
        return
    fi
    local d h fd fh what
    d="$(sed -n 's/^ci-budget faults=default found=\([^ ]*\) .*/\1/p' "$log")"
    h="$(sed -n 's/^ci-budget faults=high found=\([^ ]*\) .*/\1/p' "$log")"
    fd="$(sed -n 's/^ci-budget faults=default .* first=\(.*\)/\1/p' "$log")"
    fh="$(sed -n 's/^ci-budget faults=high .* first=\(.*\)/\1/p' "$log")"
    what="$(grep -m1 '^violation ' "$log" | sed 's/^violation faults=[a-z]* seed=[0-9]*: //' | cut -c1-100 || true)"
    echo "$d | $h | $fd | $fh | ${what:--}"
}

status=0
{
    echo "# mutation table at $commit ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo "| patch | found default | found high | first default | first high | first report |"
    echo "| --- | --- | --- | --- | --- | --- |"
} | tee "$out"

if [ "$baseline" -eq 1 ]; then
    row="$(run_budget "$logs/baseline.log")"
    echo "| (none: unmutated tree) | $row |" | tee -a "$out"
    case "$row" in 0/*" | 0/"*) ;; *) status=1 ;; esac
fi

for p in "${patches[@]}"; do
    name="$(basename "$p" .patch)"
    if ! (cd "$tree" && git apply --check "$p") 2>"$logs/$name.apply"; then
        echo "| $name | DOES-NOT-APPLY (see $logs/$name.apply) |" | tee -a "$out"
        status=1
        continue
    fi
    (cd "$tree" && git apply "$p")
    row="$(run_budget "$logs/$name.log")"
    if ! (cd "$tree" && git apply -R "$p"); then
        echo "could not revert $name; re-extracting the tree" >&2
        rm -rf "$tree" && mkdir -p "$tree"
        git -C "$repo" archive HEAD | tar -x -C "$tree"
    fi
    echo "| $name | $row |" | tee -a "$out"
    case "$row" in
        "0/"*" | 0/"* | BUILD-FAILED | RUN-FAILED) status=1 ;;
    esac
done
exit "$status"
