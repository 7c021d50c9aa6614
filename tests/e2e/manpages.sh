#!/usr/bin/env bash
# tests/e2e/manpages.sh: the manual pages, the bash completion and the
# package that carries them.
#
# - each page (docs/man/*.scd) builds with scdoc and `man -l` renders it
#   without a warning (groff -ww too);
# - every option in `mxlockd --help`, every command and every option in
#   `mxlock --help` and `mxlock COMMAND --help`, and every configuration key
#   that src/config.c accepts, is in its page;
# - the completion completes mxlock's commands, each command's options and
#   the values of --format; `complete -p mxlock` names it;
# - `make install` installs the pages, the completion and the examples;
# - the .deb (`make deb`, or DEB=path) carries them and lintian reports no
#   warning and no error.
# e2e-timeout: 400
. "$(dirname "$0")/../lib.sh"
MXLOCK=${MXLOCK:-$MXT_ROOT/build/mxlock}
for t in scdoc man groff lintian; do
        command -v $t >/dev/null || { echo "skip - manpages (missing $t: run tests/deps.sh)"; exit 0; }
done
[ -x "$MXLOCK" ] && [ -x "$MXLOCKD" ] || { echo "skip - manpages (not built: run make)"; exit 0; }
lab_init
MAN=$MXT_ROOT/docs/man

renders() {
        local page=$1 out
        scdoc <"$MAN/$page.scd" >"$T/$page" || return 1
        out=$(MANWIDTH=80 man -l --warnings "$T/$page" 2>&1 >/dev/null)
        out+=$(groff -ww -man -Tutf8 -z "$T/$page" 2>&1)
        [ -z "$out" ] || { echo "$out"; return 1; }
        MANWIDTH=80 man -l "$T/$page" 2>/dev/null | grep -q "^NAME"
}
for p in mxlockd.8 mxlock.8 mxlock.conf.5; do
        ok "$p builds and renders without warnings" renders "$p"
done

# all_in PAGE WORD...: every WORD appears in the rendered PAGE.
all_in() {
        local page=$1 w missing=()
        shift
        MANWIDTH=200 man -l "$T/$page" 2>/dev/null | sed 's/\xe2\x80\x90/-/g' >"$T/$page.txt"
        for w in "$@"; do
                grep -qF -- "$w" "$T/$page.txt" || missing+=("$w")
        done
        echo "$# words checked, missing: ${missing[*]:-none}"
        [ ${#missing[@]} -eq 0 ] && [ $# -gt 0 ]
}
options_of() { grep -oE -- '--[a-z][a-z-]+' | sort -u; }
commands_of() { "$MXLOCK" --help | awk '/^Commands:/ { c = 1; next } c && NF { print $1 }'; }

ok "mxlockd(8): every option of mxlockd --help" all_in mxlockd.8 $("$MXLOCKD" --help 2>&1 | options_of)
ok "mxlock(8): every command of mxlock --help" all_in mxlock.8 $(commands_of)
cmd_opts=()
for c in $(commands_of); do
        cmd_opts+=($("$MXLOCK" "$c" --help 2>&1 | options_of))
done
ok "mxlock(8): every option of every command's --help" all_in mxlock.8 "${cmd_opts[@]}" $("$MXLOCK" --help | options_of)
keys=$(sed -n 's/.*\[DK_[A-Z_]*\] = { "\([a-z_]*\)".*/\1/p' "$MXT_ROOT/src/config.c")
pkeys=$(grep -oE 'strcmp\(key, "[a-z_]+"\)' "$MXT_ROOT/src/config.c" | grep -oE '"[a-z_]+"' | tr -d '"')
key_words=()
for k in $keys $pkeys; do
        key_words+=("$k =")
done
ok "mxlock.conf(5): every key src/config.c accepts (${#key_words[@]})" all_in mxlock.conf.5 "${key_words[@]}"

# complete WORDS...: the completions for the last word (bash-completion's way).
complete_words() {
        bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mxlock; printf "%s\n" "${COMPREPLY[@]}"' \
                _ "$MXT_ROOT/src/completion/mxlock.bash" "$@"
}
completes() {
        local want=$1 got
        shift
        got=$(complete_words "$@")
        grep -qx -- "$want" <<<"$got" || { echo "completing '$*' gave: $got"; return 1; }
}
ok "completion: registered for mxlock" \
        bash -c ". '$MXT_ROOT/src/completion/mxlock.bash'; complete -p mxlock | grep -q -- '-F _mxlock'"
all_commands() {
        local c
        for c in $(commands_of); do
                completes "$c" mxlock "${c:0:2}" || return 1
        done
}
ok "completion: every command of mxlock --help" all_commands
all_options() {
        local c o
        for c in $(commands_of); do
                for o in $("$MXLOCK" "$c" --help 2>&1 | options_of); do
                        completes "$o" mxlock -c /etc/mxlock/mxlock.conf "$c" -- || return 1
                done
        done
}
ok "completion: every option of every command, after a global option" all_options
ok "completion: export --format values" completes ocsf mxlock export --format ""
ok "completion: report --format values" completes html mxlock report --format h
ok "completion: nothing but formats after --format" test "$(complete_words mxlock export --format "" | wc -l)" = 2

installs() {
        local d=$T/inst f
        make -s -C "$MXT_ROOT" install PREFIX=/usr DESTDIR="$d" >"$T/install.log" 2>&1 || { tail "$T/install.log"; return 1; }
        for f in usr/share/man/man8/mxlockd.8 usr/share/man/man8/mxlock.8 usr/share/man/man5/mxlock.conf.5 \
                usr/share/bash-completion/completions/mxlock \
                usr/share/doc/mxlock/examples/rsyslog/mxlock-forward.conf \
                usr/share/doc/mxlock/examples/rsyslog/mxlock-collector.conf \
                usr/share/doc/mxlock/examples/prometheus/mxlock-rules.yml; do
                [ -s "$d/$f" ] || { echo "missing $f"; return 1; }
        done
}
ok "make install installs pages, completion and examples" installs

if [ -z "${DEB:-}" ]; then
        if (cd "$MXT_ROOT" && make -s deb) >"$T/make-deb.log" 2>&1; then
                DEB=$(ls -t "$MXT_ROOT"/build-deb/mxlock_*.deb | head -n 1)
                pass "make deb ($(basename "$DEB"))"
        else
                fail "make deb" "$(tail -n 30 "$T/make-deb.log")"
                lab_finish
        fi
fi
ok "the .deb carries the pages and the completion" sh -c "dpkg -c '$DEB' >'$T/deb.list' &&
        grep -q 'usr/share/man/man8/mxlockd.8.gz' '$T/deb.list' && grep -q 'usr/share/man/man8/mxlock.8.gz' '$T/deb.list' &&
        grep -q 'usr/share/man/man5/mxlock.conf.5.gz' '$T/deb.list' &&
        grep -q 'usr/share/bash-completion/completions/mxlock' '$T/deb.list'"
lintian_clean() {
        lintian --tag-display-limit 0 "$DEB" >"$T/lintian.out" 2>&1
        grep -v 'running with root privileges' "$T/lintian.out"
        ! grep -qE '^[EW]: ' "$T/lintian.out"
}
ok "lintian: no warnings or errors on the .deb" lintian_clean

lab_finish
