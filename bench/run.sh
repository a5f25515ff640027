#!/usr/bin/env bash
# mailferry vs mbsync (isync), side by side, on loopback Dovecot: `bash bench/run.sh [--quick]`.
#
# What it measures (each tool copies the same generated data from a fresh source Dovecot to a
# fresh, empty target Dovecot; TLS with a test CA; a master user; the tools alternate within
# each round, and the table shows the median over ROUNDS):
#   initial       one mailbox of MESSAGES messages over 12 folders (bench_corpus: seeded
#                 log-normal sizes, a few multi-MB messages; ~110 MB by default):
#                 `mailferry batch start --wait` vs `mbsync` (Sync Push, Create Far,
#                 CopyArrivalDate yes, Expunge None);
#   incremental   the unchanged mailbox again: `mailferry batch sync --wait` vs an mbsync re-run;
#   many c=N      MANY_USERS mailboxes of MANY_MESSAGES messages: mailferry with
#                 --max-concurrent-migrations N on both endpoints vs MANY_USERS mbsync runs,
#                 N at a time (xargs -P N).
# Wall time and peak RSS come from `/usr/bin/time -f '%e %M %U %S'` around the tool's process
# (for mbsync with xargs: the largest single mbsync process; N of them run at once). Server CPU
# is what both Dovecot instances used meanwhile (their master's reaped children).
# After the timed runs of each round the copies are checked: `mailferry verify` must exit 0 on
# mailferry's target; mbsync's target is compared with the source file by file (messages that
# differ only by mbsync's X-TUID header are counted); in the last round `mailferry verify` also
# runs against mbsync's copy.
#
# Output: a table on stdout and in bench/results/latest.txt (raw rows: bench/results/latest.tsv);
# scratch files (logs, mbsync state, mailferry data) in bench/work/run/ (recreated each run).
#
# Options and environment:
#   --quick                      smoke run: ROUNDS=1 MESSAGES=500 MANY_MESSAGES=50
#   ROUNDS=3 MESSAGES=5000 FOLDERS=12 MEDIAN=8000 SEED=6
#   MANY_USERS=20 MANY_MESSAGES=500 CONCURRENCY="1 4 16"
#   SKIP_MANY=1                  leave out the many-mailboxes case
#   MAILFERRY_BIN_DIR=DIR        use prebuilt mailferry and mailferry-bench-fixture from DIR
#                                instead of `cargo build --release` here
# Needs root (or sudo) the first time: installs dovecot-imapd, isync and time with apt-get.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ROUNDS="${ROUNDS:-3}"
MESSAGES="${MESSAGES:-5000}"
FOLDERS="${FOLDERS:-12}"
MEDIAN="${MEDIAN:-8000}"
SEED="${SEED:-6}"
MANY_USERS="${MANY_USERS:-20}"
MANY_MESSAGES="${MANY_MESSAGES:-500}"
CONCURRENCY="${CONCURRENCY:-1 4 16}"
SKIP_MANY="${SKIP_MANY:-0}"
MODE=full
for arg in "$@"; do
    case "$arg" in
        --quick) MODE=quick; ROUNDS=1; MESSAGES=500; MANY_MESSAGES=50 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done

# --- what the benchmark needs ------------------------------------------------------------------
ensure_dovecot
if [ ! -x /usr/bin/time ]; then apt_install time; fi
if ! have mbsync; then apt_install isync; fi
if [ -n "${MAILFERRY_BIN_DIR:-}" ]; then
    BIN="$(cd "$MAILFERRY_BIN_DIR" && pwd)"
    step "using prebuilt binaries in $BIN"
else
    ensure_cargo
    step "cargo build --release -p mailferry -p mailferry-testkit --bins"
    cargo build --release -p mailferry -p mailferry-testkit --bins
    BIN="$ROOT/target/release"
fi
WORK="$ROOT/bench/work/run" # only this script's own part of bench/work (bench/scaleout.sh uses it too)
RESULTS="$ROOT/bench/results"
rm -rf "$WORK"
mkdir -p "$WORK/bin" "$RESULTS"
# A private copy: a rebuild in the tree during the run does not change what is measured.
for b in mailferry mailferry-bench-fixture; do
    [ -x "$BIN/$b" ] || { echo "error: $BIN/$b not found" >&2; exit 1; }
    cp "$BIN/$b" "$WORK/bin/$b"
done
BIN="$WORK/bin"
TSV="$WORK/results.tsv"
printf 'case\ttool\tround\twall_s\trss_kib\tuser_s\tsys_s\tserver_cpu_s\tmachine_cpu_s\tmessages\tbytes\n' > "$TSV"
CLK_TCK="$(getconf CLK_TCK)"
MF_VERSION="$("$BIN/mailferry" --version 2>/dev/null || echo mailferry)"
MBSYNC_VERSION="$(mbsync --version 2>/dev/null | head -1)"
DOVECOT_VERSION="$( (dovecot --version || /usr/sbin/dovecot --version) 2>/dev/null | head -1)"

# --- the servers ---------------------------------------------------------------------------------
FIX_PID=""
FIX_DIR=""
fixture_stop() {
    if [ -n "$FIX_PID" ]; then
        touch "$FIX_DIR/stop"
        wait "$FIX_PID" 2>/dev/null || true
        FIX_PID=""
    fi
}
trap fixture_stop EXIT

# fixture_start DIR USERS MESSAGES: fresh source (seeded) and empty target; sources fixture.env.
fixture_start() {
    local dir="$1" users="$2" messages="$3"
    rm -rf "$dir"
    mkdir -p "$dir"
    "$BIN/mailferry-bench-fixture" serve "$dir/fixture" --users "$users" --messages "$messages" \
        --folders "$FOLDERS" --median "$MEDIAN" --seed "$SEED" 2>"$dir/fixture.log" &
    FIX_PID=$!
    FIX_DIR="$dir/fixture"
    local i
    for i in $(seq 1 1200); do
        [ -f "$FIX_DIR/fixture.env" ] && break
        if ! kill -0 "$FIX_PID" 2>/dev/null; then
            echo "error: the bench fixture did not start:" >&2
            cat "$dir/fixture.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    [ -f "$FIX_DIR/fixture.env" ] || { echo "error: the bench fixture timed out" >&2; exit 1; }
    # shellcheck disable=SC1091
    . "$FIX_DIR/fixture.env"
    export ADMIN_PW
    # Let the freshly written corpus reach the disk, so neither tool pays for the other's writeback.
    sync
}

# CPU seconds of both Dovecot instances so far (each master's own and its reaped children's).
server_cpu() {
    local total=0 pid t
    for pid in "$SRC_MASTER_PID" "$DST_MASTER_PID"; do
        t="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12+$13+$14+$15}')" || t=0
        total=$((total + ${t:-0}))
    done
    echo "$total"
}

# CPU ticks the whole machine spent busy so far (to see other load during a run).
machine_cpu() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# timed CASE TOOL ROUND MESSAGES BYTES LOGPREFIX cmd...: runs cmd under /usr/bin/time, appends a
# row to the TSV; sets T_RC (the command's exit status).
timed() {
    local case="$1" tool="$2" round="$3" msgs="$4" bytes="$5" log="$6"
    shift 6
    local cpu0 cpu1 all0 all1
    cpu0="$(server_cpu)"
    all0="$(machine_cpu)"
    set +e
    /usr/bin/time -f '%e %M %U %S' -o "$log.time" "$@" >"$log.out" 2>"$log.err"
    T_RC=$?
    set -e
    sleep 0.5 # the servers' session processes exit and are reaped
    cpu1="$(server_cpu)"
    all1="$(machine_cpu)"
    local wall rss usr sys
    read -r wall rss usr sys < <(tail -1 "$log.time")
    local srv all
    srv="$(awk -v a="$cpu0" -v b="$cpu1" -v t="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/t}')"
    all="$(awk -v a="$all0" -v b="$all1" -v t="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/t}')"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$tool" "$round" "$wall" "$rss" "$usr" "$sys" "$srv" "$all" "$msgs" "$bytes" >> "$TSV"
    printf '    %-16s %-9s %7.2f s  %6.1f MiB  cpu %5.2f s  server cpu %5.2f s  machine cpu %5.2f s%s\n' "$case" "$tool" "$wall" \
        "$(awk -v r="$rss" 'BEGIN{print r/1024}')" "$(awk -v u="$usr" -v s="$sys" 'BEGIN{print u+s}')" "$srv" "$all" \
        "$([ "$T_RC" -eq 0 ] || echo "  EXIT $T_RC")"
}

fail() {
    local log="$1"
    shift
    echo "error: $*" >&2
    for f in "$log.out" "$log.err"; do [ -s "$f" ] && tail -20 "$f" >&2; done
    exit 1
}

# --- mailferry -----------------------------------------------------------------------------------
# mf_setup DIR [CONCURRENCY]: endpoints (tested first) and a batch of every fixture user.
mf_setup() {
    local dir="$1" conc="${2:-}"
    local extra=()
    [ -n "$conc" ] && extra=(--max-concurrent-migrations "$conc")
    export MAILFERRY_HOME="$dir/mailferry"
    local first="${USERS%% *}"
    "$BIN/mailferry" --json endpoint create source --host "$SRC_HOST" --port "$SRC_PORT" --security tls \
        --admin "$ADMIN" --password-env ADMIN_PW --impersonation master-user \
        --test-mailbox "$first" --ca-file "$SRC_CA" "${extra[@]}" > "$dir/mf-endpoint-source.json"
    "$BIN/mailferry" --json endpoint create target --host "$DST_HOST" --port "$DST_PORT" --security tls \
        --admin "$ADMIN" --password-env ADMIN_PW --impersonation authzid \
        --test-mailbox "$first" --ca-file "$DST_CA" "${extra[@]}" > "$dir/mf-endpoint-target.json"
    { echo "EmailAddress,UserName,Password"; for u in $USERS; do echo "$u,,"; done; } > "$dir/users.csv"
    "$BIN/mailferry" --json batch create bench --csv "$dir/users.csv" --source source --target target > "$dir/mf-batch.json"
}

# --- mbsync --------------------------------------------------------------------------------------
# mbsync_setup DIR: one channel per fixture user (u1, u2, ...), both sides logged in as
# user*admin (Dovecot master user); near = source, far = target, pushed.
mbsync_setup() {
    local dir="$1" i=0 u
    mkdir -p "$dir/mbsync-state"
    : > "$dir/mbsyncrc"
    for u in $USERS; do
        i=$((i + 1))
        # A state directory per channel: inside a Channel, SyncState names its files after
        # the mailbox only, so channels sharing one directory would share state.
        mkdir -p "$dir/mbsync-state/u$i"
        cat >> "$dir/mbsyncrc" <<EOF
IMAPAccount src$i
Host localhost
Port $SRC_PORT
User "$u*$ADMIN"
Pass "$ADMIN_PW"
SSLType IMAPS
CertificateFile $SRC_CA

IMAPStore src$i
Account src$i

IMAPAccount dst$i
Host localhost
Port $DST_PORT
User "$u*$ADMIN"
Pass "$ADMIN_PW"
SSLType IMAPS
CertificateFile $DST_CA

IMAPStore dst$i
Account dst$i

# The target's own special-use folders have no source counterpart: leave them alone.
Channel u$i
Far :dst$i:
Near :src$i:
Patterns * !"Sent Items" !"Deleted Items" !"Junk E-Mail"
Create Far
Sync Push
Expunge None
Remove None
CopyArrivalDate yes
SyncState $dir/mbsync-state/u$i/

EOF
    done
    chmod 600 "$dir/mbsyncrc"
}

# The target's copy of every user compared with the source, file by file; sums the counts.
compare_copies() {
    local u out
    CMP_TARGET=0 CMP_IDENTICAL=0 CMP_ONLY_XTUID=0 CMP_OTHER=0 CMP_WITH_XTUID=0 CMP_SOURCE=0
    for u in $USERS; do
        out="$("$BIN/mailferry-bench-fixture" compare "$SRC_DIR/home/$u/Maildir" "$DST_DIR/home/$u/Maildir")"
        CMP_SOURCE=$((CMP_SOURCE + $(sed -n 's/^SOURCE_MESSAGES=//p' <<<"$out")))
        CMP_TARGET=$((CMP_TARGET + $(sed -n 's/^TARGET_MESSAGES=//p' <<<"$out")))
        CMP_IDENTICAL=$((CMP_IDENTICAL + $(sed -n 's/^IDENTICAL=//p' <<<"$out")))
        CMP_ONLY_XTUID=$((CMP_ONLY_XTUID + $(sed -n 's/^ONLY_XTUID=//p' <<<"$out")))
        CMP_OTHER=$((CMP_OTHER + $(sed -n 's/^OTHER=//p' <<<"$out")))
        CMP_WITH_XTUID=$((CMP_WITH_XTUID + $(sed -n 's/^WITH_XTUID=//p' <<<"$out")))
    done
}

VERIFY_NOTES="$WORK/verify.txt"
: > "$VERIFY_NOTES"
note() { echo "$*" | tee -a "$VERIFY_NOTES"; }

# --- one tool on one fresh pair of servers -------------------------------------------------------
run_single_mailferry() {
    local round="$1" dir="$WORK/r$1-single-mailferry"
    fixture_start "$dir" 1 "$MESSAGES"
    local msgs="$CORPUS_MESSAGES" bytes="$CORPUS_BYTES"
    CORPUS_DESC="$msgs messages, $bytes bytes ($(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB), $FOLDERS folders"
    mf_setup "$dir"
    timed initial mailferry "$round" "$msgs" "$bytes" "$dir/initial" \
        "$BIN/mailferry" --json batch start bench --wait
    [ "$T_RC" -eq 0 ] || fail "$dir/initial" "mailferry batch start failed"
    timed incremental mailferry "$round" "$msgs" "$bytes" "$dir/incremental" \
        "$BIN/mailferry" --json batch sync bench --wait
    [ "$T_RC" -eq 0 ] || fail "$dir/incremental" "mailferry batch sync failed"
    # Untimed: prove the copy.
    set +e
    "$BIN/mailferry" verify bench > "$dir/verify.out" 2>&1
    local vrc=$?
    set -e
    compare_copies
    note "round $round, mailferry's copy: \`mailferry verify\` exit $vrc: $(tail -1 "$dir/verify.out")"
    note "round $round, mailferry's copy, file by file: $CMP_TARGET messages on the target, $CMP_IDENTICAL byte-identical to the source, $CMP_WITH_XTUID with X-TUID, $CMP_OTHER other"
    [ "$vrc" -eq 0 ] || { cat "$dir/verify.out" >&2; echo "error: mailferry verify failed on mailferry's copy" >&2; exit 1; }
    fixture_stop
}

run_single_mbsync() {
    local round="$1" dir="$WORK/r$1-single-mbsync"
    fixture_start "$dir" 1 "$MESSAGES"
    local msgs="$CORPUS_MESSAGES" bytes="$CORPUS_BYTES"
    mbsync_setup "$dir"
    timed initial mbsync "$round" "$msgs" "$bytes" "$dir/initial" mbsync -q -c "$dir/mbsyncrc" -a
    [ "$T_RC" -eq 0 ] || fail "$dir/initial" "mbsync failed"
    timed incremental mbsync "$round" "$msgs" "$bytes" "$dir/incremental" mbsync -q -c "$dir/mbsyncrc" -a
    [ "$T_RC" -eq 0 ] || fail "$dir/incremental" "mbsync re-run failed"
    compare_copies
    note "round $round, mbsync's copy, file by file: $CMP_TARGET messages on the target, $CMP_IDENTICAL byte-identical to the source, $CMP_ONLY_XTUID differ only by an added X-TUID header ($CMP_WITH_XTUID carry X-TUID), $CMP_OTHER differ otherwise"
    if [ "$round" -eq "$ROUNDS" ]; then
        # mailferry's verifier pointed at mbsync's copy (source and target as above).
        mf_setup "$dir" > /dev/null
        set +e
        "$BIN/mailferry" verify bench > "$dir/verify.out" 2>&1
        local vrc=$?
        set -e
        note "round $round, mbsync's copy: \`mailferry verify\` exit $vrc: $(tail -1 "$dir/verify.out")"
    fi
    fixture_stop
}

run_many() {
    local round="$1" tool="$2" conc="$3" dir="$WORK/r$1-many-c$3-$2"
    fixture_start "$dir" "$MANY_USERS" "$MANY_MESSAGES"
    local msgs="$CORPUS_MESSAGES" bytes="$CORPUS_BYTES"
    MANY_DESC="$MANY_USERS mailboxes x $MANY_MESSAGES messages, $bytes bytes ($(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB)"
    if [ "$tool" = mailferry ]; then
        mf_setup "$dir" "$conc"
        timed "many c=$conc" mailferry "$round" "$msgs" "$bytes" "$dir/initial" \
            "$BIN/mailferry" --json batch start bench --wait
        [ "$T_RC" -eq 0 ] || fail "$dir/initial" "mailferry batch start failed"
        if [ "$round" -eq 1 ]; then
            set +e
            "$BIN/mailferry" verify bench > "$dir/verify.out" 2>&1
            local vrc=$?
            set -e
            note "round $round, many c=$conc, mailferry's copy: \`mailferry verify\` exit $vrc: $(tail -1 "$dir/verify.out")"
            [ "$vrc" -eq 0 ] || { echo "error: mailferry verify failed" >&2; exit 1; }
        fi
    else
        mbsync_setup "$dir"
        timed "many c=$conc" mbsync "$round" "$msgs" "$bytes" "$dir/initial" \
            bash -c 'for i in $(seq 1 "$1"); do echo "u$i"; done | xargs -P "$2" -n 1 mbsync -q -c "$3"' \
            _ "$MANY_USERS" "$conc" "$dir/mbsyncrc"
        [ "$T_RC" -eq 0 ] || fail "$dir/initial" "mbsync (xargs -P $conc) failed"
        if [ "$round" -eq 1 ]; then
            compare_copies
            note "round $round, many c=$conc, mbsync's copy, file by file: $CMP_TARGET messages, $CMP_IDENTICAL byte-identical, $CMP_ONLY_XTUID differ only by X-TUID, $CMP_OTHER differ otherwise"
        fi
    fi
    fixture_stop
}

# --- the rounds ----------------------------------------------------------------------------------
step "benchmark ($MODE): $ROUNDS round(s); $MESSAGES messages in one mailbox; many: $MANY_USERS x $MANY_MESSAGES, concurrency $CONCURRENCY"
echo "    $MF_VERSION; $MBSYNC_VERSION; Dovecot $DOVECOT_VERSION; $(nproc) CPU(s)"
CORPUS_DESC="" MANY_DESC=""
for round in $(seq 1 "$ROUNDS"); do
    # Alternate which tool goes first.
    if [ $((round % 2)) -eq 1 ]; then order="mailferry mbsync"; else order="mbsync mailferry"; fi
    step "round $round of $ROUNDS: one mailbox ($order)"
    for tool in $order; do "run_single_$tool" "$round"; done
    echo "    corpus: $CORPUS_DESC"
    if [ "$SKIP_MANY" != 1 ]; then
        k=0
        for conc in $CONCURRENCY; do
            k=$((k + 1))
            if [ $(((round + k) % 2)) -eq 0 ]; then o="mailferry mbsync"; else o="mbsync mailferry"; fi
            step "round $round of $ROUNDS: many mailboxes, concurrency $conc ($o)"
            for tool in $o; do run_many "$round" "$tool" "$conc"; done
        done
        echo "    corpus: $MANY_DESC"
    fi
done

# --- the table -----------------------------------------------------------------------------------
# agg CASE TOOL COLUMN: median of a column over the rounds (max for rss_kib).
agg() {
    awk -F'\t' -v c="$1" -v t="$2" -v col="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $1 == c && $2 == t { v[n++] = $(idx[col]) + 0 }
        END {
            if (n == 0) { print ""; exit }
            if (col == "rss_kib") { m = v[0]; for (i = 1; i < n; i++) if (v[i] > m) m = v[i]; print m; exit }
            for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
            print (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
        }' "$TSV"
}
first_of() { awk -F'\t' -v c="$1" -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next } $1 == c { print $(idx[col]); exit }' "$TSV"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

OUT="$WORK/table.txt"
{
    echo "mailferry vs mbsync: $(date -u '+%Y-%m-%d %H:%M UTC'), $MODE mode, median of $ROUNDS round(s)"
    echo "$MF_VERSION; $MBSYNC_VERSION; Dovecot $DOVECOT_VERSION on loopback, TLS; $(nproc) CPU(s)"
    echo "one mailbox: $CORPUS_DESC (bench_corpus median $MEDIAN, seed $SEED)"
    [ "$SKIP_MANY" = 1 ] || echo "many: $MANY_DESC"
    echo "MB = 10^6 bytes; RSS = peak resident set of the tool's process (max over rounds; for mbsync"
    echo "with c>1: of the largest single mbsync, c of them ran at once); cpu = the tool's user+sys s;"
    echo "server = CPU s of both Dovecots during the run; other = the rest of the machine's busy CPU s"
    echo "meanwhile (kernel network/disk work, and any other load: builds, tests; 0.5 s settle time"
    echo "included; computed from the medians). A high 'other' means the run was disturbed."
    echo
    printf '%-16s %-9s %8s %9s %8s %8s %7s %7s %7s %10s\n' case tool "wall s" "msg/s" "MB/s" "RSS MiB" "cpu s" "server" "other" "mf/mbsync"
    cases="initial incremental"
    [ "$SKIP_MANY" = 1 ] || for conc in $CONCURRENCY; do cases="$cases many_c=$conc"; done
    for c in $cases; do
        c="${c/_/ }"
        msgs="$(first_of "$c" messages)"
        bytes="$(first_of "$c" bytes)"
        wm="$(agg "$c" mailferry wall_s)"
        wb="$(agg "$c" mbsync wall_s)"
        for tool in mailferry mbsync; do
            w="$(agg "$c" "$tool" wall_s)"
            [ -n "$w" ] || continue
            rss="$(agg "$c" "$tool" rss_kib)"
            cpu="$(calc '%.2f' "$(agg "$c" "$tool" user_s) + $(agg "$c" "$tool" sys_s)")"
            srv="$(agg "$c" "$tool" server_cpu_s)"
            oth="$(calc '%.2f' "$(agg "$c" "$tool" machine_cpu_s) - $cpu - $srv")"
            ratio=""
            if [ "$tool" = mailferry ] && [ -n "$wb" ]; then ratio="$(calc '%.2f' "$wm / ($wb > 0 ? $wb : 0.01)")"; fi
            printf '%-16s %-9s %8.2f %9.0f %8.1f %8.1f %7.2f %7.2f %7.2f %10s\n' "$c" "$tool" "$w" \
                "$(calc '%.1f' "$msgs / ($w > 0 ? $w : 0.01)")" "$(calc '%.2f' "$bytes / 1e6 / ($w > 0 ? $w : 0.01)")" \
                "$(calc '%.1f' "$rss / 1024")" "$cpu" "$srv" "$oth" "$ratio"
        done
    done
    echo
    echo "Goals (issue):"
    wm="$(agg initial mailferry wall_s)"; wb="$(agg initial mbsync wall_s)"
    r="$(calc '%.2f' "$wm / $wb")"
    ok="$(awk -v r="$r" 'BEGIN{print (r <= 0.80) ? "MET" : "NOT MET"}')"
    printf '  %-44s %-14s %s\n' "initial sync <= 0.8x mbsync's time:" "${r}x" "$ok"
    rss="$(calc '%.1f' "$(agg initial mailferry rss_kib) / 1024")"
    ok="$(awk -v r="$rss" 'BEGIN{print (r < 64) ? "MET" : "NOT MET"}')"
    printf '  %-44s %-14s %s\n' "initial sync peak RSS < 64 MiB:" "$rss MiB" "$ok"
    wm="$(agg incremental mailferry wall_s)"; wb="$(agg incremental mbsync wall_s)"
    r="$(calc '%.2f' "$wm / ($wb > 0 ? $wb : 0.01)")"
    ok="$(awk -v r="$r" 'BEGIN{print (r <= 2.0) ? "MET" : "NOT MET"}')"
    printf '  %-44s %-14s %s\n' "no-change incremental <= 2x mbsync's time:" "${r}x" "$ok"
    if [ "$SKIP_MANY" != 1 ]; then
        set -- $CONCURRENCY
        lo="$1"; hi="${!#}"
        m1="$(agg "many c=$lo" mailferry wall_s)"; b1="$(agg "many c=$lo" mbsync wall_s)"
        line="  many mailboxes, speed-up over c=$lo: mailferry"
        for conc in $CONCURRENCY; do line="$line c=$conc $(calc '%.2f' "$m1 / $(agg "many c=$conc" mailferry wall_s)")x"; done
        line="$line; mbsync"
        for conc in $CONCURRENCY; do line="$line c=$conc $(calc '%.2f' "$b1 / $(agg "many c=$conc" mbsync wall_s)")x"; done
        echo "$line"
        mh="$(agg "many c=$hi" mailferry wall_s)"; bh="$(agg "many c=$hi" mbsync wall_s)"
        best_m="$(for conc in $CONCURRENCY; do agg "many c=$conc" mailferry wall_s; done | sort -g | head -1)"
        best_b="$(for conc in $CONCURRENCY; do agg "many c=$conc" mbsync wall_s; done | sort -g | head -1)"
        srv_share="$(calc '%.0f' "100 * $(agg "many c=$hi" mailferry server_cpu_s) / ($mh * $(nproc))")"
        ok="$(awk -v m="$mh" -v bm="$best_m" -v bb="$best_b" 'BEGIN{print (m <= 1.1 * bm && bm <= 1.1 * bb) ? "MET" : "NOT MET"}')"
        echo "  scales until the server is the bottleneck: best mailferry $best_m s vs best mbsync $best_b s; at c=$hi"
        echo "    mailferry ${mh} s (servers used ${srv_share}% of the machine's CPU)  $ok"
        echo "    (criterion: mailferry's best time within 10% of mbsync's best, and no slow-down at c=$hi)"
    fi
    echo
    echo "Copies:"
    sed 's/^/  /' "$VERIFY_NOTES"
} > "$OUT"

cp "$OUT" "$RESULTS/latest.txt"
cp "$TSV" "$RESULTS/latest.tsv"
step "results (also in bench/results/latest.txt)"
cat "$OUT"
