# bash completion for bbtoken, mod_bbtoken's command line.
#
# Commands, subcommands and options are those of the CLI's usage texts
# (bbtoken --help, bbtoken COMMAND --help); t/61-completion.t checks that
# they agree.  Names of users, tokens and projects are not completed: that
# would take a database connection on every Tab.

_bbtoken()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=${COMP_WORDS[COMP_CWORD - 1]}
    local perms="PROJECT_READ PROJECT_WRITE PROJECT_ADMIN REPO_READ REPO_WRITE REPO_ADMIN"
    # A grant's, never a token's.
    local grants="$perms REPO_CREATE"
    local cmd="" sub="" nargs=0 i w
    COMPREPLY=()

    # The command, its subcommand (user, db) and how many operands come
    # before the word being completed; option values are not operands.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            --db | --name | --perm | --expiry-days | --user | --since | --token | \
                --within | --expired-before | --max-expiry-days | --max-tokens | \
                --email | --display-name | --revoke-unused-after | --sendmail | --from | \
                --sendmail-timeout | --owner | --project | --repo | --unused-for | --min-perm | \
                --repo-admins-manage-tokens | --kind | --allow-from)
                ((i++))
                continue
                ;;
            -*) continue ;;
        esac
        if [[ -z $cmd ]]; then
            cmd=$w
        elif [[ ($cmd == user || $cmd == db) && -z $sub ]]; then
            sub=$w
        else
            ((nargs++))
        fi
    done

    case $prev in
        --perm | --min-perm)
            COMPREPLY=($(compgen -W "$perms" -- "$cur"))
            return 0
            ;;
        --max-expiry-days | --revoke-unused-after)
            COMPREPLY=($(compgen -W "none" -- "$cur"))
            return 0
            ;;
        --repo-admins-manage-tokens)
            COMPREPLY=($(compgen -W "yes no" -- "$cur"))
            return 0
            ;;
        --kind)
            COMPREPLY=($(compgen -W "personal project repository" -- "$cur"))
            return 0
            ;;
        --sendmail)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
            ;;
        --db | --name | --expiry-days | --user | --since | --token | --within | \
            --expired-before | --max-tokens | --email | --display-name | --from | \
            --sendmail-timeout | --owner | --project | --repo | --unused-for | --allow-from)
            return 0
            ;;
    esac

    local opts="" words=""
    case $cmd in
        "")
            opts="--db --help --version"
            words="user grant ungrant create list update revoke rotate expiring purge audit policy project notify db"
            ;;
        user)
            case $sub in
                "") words="add set show disable enable" ;;
                add) opts="--admin --email --display-name" ;;
                set) opts="--email --no-email --display-name --no-display-name --admin --no-admin" ;;
                show) opts="--json" ;;
            esac
            ;;
        db)
            case $sub in
                "") words="status upgrade check" ;;
                upgrade) opts="--init" ;;
                check) opts="--repair --json" ;;
            esac
            ;;
        grant)
            # grant NAME PERMISSION TARGET
            ((nargs == 1)) && words=$grants
            ;;
        create) opts="--name --perm --expiry-days --project --repo --allow-from" ;;
        list) opts="--json --all --owner --project --repo --expired --never-used --unused-for --min-perm --revoke --dry-run --kind" ;;
        update) opts="--name --perm --allow-from --allow-from-any" ;;
        revoke) opts="--user --project --repo" ;;
        expiring) opts="--within --json" ;;
        purge) opts="--expired-before" ;;
        audit) opts="--since --token --json --project --repo" ;;
        policy) opts="--expiry-required --expiry-optional --max-expiry-days --max-tokens --revoke-unused-after --json" ;;
        project) opts="--repo-admins-manage-tokens --json" ;;
        notify) opts="--dry-run --sendmail --from --sendmail-timeout" ;;
    esac
    # Every command takes --help.
    [[ -n $cmd ]] && opts="$opts --help"

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ -n $words ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    fi
    return 0
}
complete -F _bbtoken bbtoken
