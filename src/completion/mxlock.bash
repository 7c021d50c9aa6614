# bash completion for mxlock(8): its global options, its commands, each
# command's options and their values (formats, provider names, files).
# Installed as /usr/share/bash-completion/completions/mxlock.

_mxlock_providers()
{
        local d f
        for d in /usr/share/mxlock/providers /usr/local/share/mxlock/providers \
                 /var/lib/mxlock/providers /etc/mxlock/providers.d; do
                for f in "$d"/*.conf; do
                        [ -e "$f" ] || continue
                        f=${f##*/}
                        printf '%s\n' "${f%.conf}"
                done
        done
}

_mxlock()
{
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
        local commands="status explain report export reload providers sync doctor disable enable setup-keys verify help"
        local cmd= i w opts= argopts= files=no

        COMPREPLY=()
        # the command: the first word that is not a global option or its value
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                case $w in
                -c | --config) ((i++)) ;;
                -*) ;;
                *) cmd=$w; break ;;
                esac
        done

        if [ -z "$cmd" ]; then
                case $prev in
                -c | --config)
                        compopt -o filenames 2>/dev/null
                        COMPREPLY=($(compgen -f -- "$cur"))
                        return 0
                        ;;
                esac
                if [[ $cur == -* ]]; then
                        COMPREPLY=($(compgen -W "-c --config -h --help" -- "$cur"))
                else
                        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
                fi
                return 0
        fi

        case $cmd in
        status)
                opts="--json --help" ;;
        explain)
                opts="--json --user --help"
                argopts="--user" ;;
        report)
                opts="--since --until --format --top --help"
                argopts="--since --until --format --top"
                files=yes ;;
        export)
                opts="--format --since --follow --hostname --help"
                argopts="--format --since --hostname"
                files=yes ;;
        providers)
                opts="--dir --help"
                argopts="--dir" ;;
        sync)
                opts="--force --max-shrink --max-growth --state-dir --nameserver --timeout --max-lookups --provider-dirs --audit-log --no-reload --dry-run --help"
                argopts="--max-shrink --max-growth --state-dir --nameserver --timeout --max-lookups --provider-dirs --audit-log" ;;
        doctor)
                opts="--format --nameserver --timeout --provider-dirs --stale-days --help"
                argopts="--format --nameserver --timeout --provider-dirs --stale-days" ;;
        verify)
                opts="--key --help"
                argopts="--key"
                files=yes ;;
        setup-keys)
                opts="--key-file --interval --user --force --help"
                argopts="--key-file --interval --user" ;;
        reload | disable | enable | help)
                opts="--help" ;;
        *)
                return 0 ;;
        esac

        # the value of an option
        case " $argopts " in
        *" $prev "*)
                case $cmd:$prev in
                report:--format) COMPREPLY=($(compgen -W "table json csv html" -- "$cur")) ;;
                export:--format) COMPREPLY=($(compgen -W "ecs ocsf" -- "$cur")) ;;
                doctor:--format) COMPREPLY=($(compgen -W "text json" -- "$cur")) ;;
                explain:--user) COMPREPLY=($(compgen -u -- "$cur")) ;;
                *:--since | *:--until) COMPREPLY=($(compgen -W "1h 24h 7d 30d" -- "$cur")) ;;
                *:--dir | *:--state-dir | *:--provider-dirs)
                        compopt -o filenames 2>/dev/null
                        COMPREPLY=($(compgen -d -- "$cur")) ;;
                *:--audit-log | *:--key)
                        compopt -o filenames 2>/dev/null
                        COMPREPLY=($(compgen -f -- "$cur")) ;;
                esac
                return 0
                ;;
        esac

        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        elif [ "$cmd" = providers ] || [ "$cmd" = sync ]; then
                COMPREPLY=($(compgen -W "$(_mxlock_providers)" -- "$cur"))
        elif [ "$files" = yes ]; then
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return 0
}
complete -F _mxlock mxlock
