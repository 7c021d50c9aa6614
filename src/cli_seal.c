/* src/cli_seal.c: `mxlock setup-keys` and `mxlock verify`, the two ends of
 * the sealed audit log (src/seal.h): the first creates the sealing key on
 * the mail host and prints the verification key once; the second, run by
 * whoever holds that key, checks the chain through the log files. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "privs.h"
#include "report.h"
#include "seal.h"

#define EXIT_USAGE 2
#define SEAL_DEFAULT_KEY MXLOCK_STATEDIR "/seal.key"
#define SEAL_KEY_ENV "MXLOCK_VERIFY_KEY"

static void setup_keys_usage(FILE *out, const char *progname)
{
        fprintf(out,
                "Usage: %s setup-keys [--key-file FILE] [--interval SECONDS] [--user USER] [--force]\n"
                "\n"
                "Create the audit log's sealing key and print the verification key on\n"
                "stdout, once: it is not kept on this host. Give it to the security team,\n"
                "who check the log with `mxlock verify` and that key. Whoever holds it can\n"
                "also seal, so keep it off the mail host.\n"
                "\n"
                "  --key-file FILE     the sealing key (default: the configuration's\n"
                "                      seal_key, else " SEAL_DEFAULT_KEY "); FILE.sync is\n"
                "                      written too, for `mxlock sync`\n"
                "  --interval SECONDS  epoch length, 60 or more: the key evolves and the\n"
                "                      old one is erased this often (default %d)\n"
                "  --user USER         owner of the key files (default: the configuration's\n"
                "                      user, else the owner of FILE's directory); mode 0600\n"
                "  --force             replace existing keys (the old chain ends there)\n",
                progname, SEAL_DEFAULT_INTERVAL);
}

/* Owner for the key files: --user, the config's user, else the directory's. */
static int key_owner(const char *user, const char *path, uid_t *uid, gid_t *gid)
{
        char *dir, *slash;
        struct stat st;
        int r = 0;

        if (user)
                return privs_lookup(user, uid, gid);
        dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash)
                slash[slash == dir ? 1 : 0] = '\0';
        if (stat(slash ? dir : ".", &st) < 0)
                r = -errno;
        *uid = st.st_uid;
        *gid = st.st_gid;
        free(dir);
        return r;
}

int setup_keys_parse(struct setup_keys_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "key-file", required_argument, NULL, 'k' },
                { "interval", required_argument, NULL, 'i' },
                { "user", required_argument, NULL, 'u' },
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        char *end;
        int c;

        *o = (struct setup_keys_opts){ .cli = cli, .interval = SEAL_DEFAULT_INTERVAL };
        optind = 0;
        while ((c = cli_getopt(argc, argv, "+k:i:u:fh", opts, err)) != -1) {
                switch (c) {
                case 'k':
                        o->key_file = optarg;
                        break;
                case 'i':
                        errno = 0;
                        o->interval = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || o->interval < SEAL_MIN_INTERVAL ||
                            o->interval > 31 * 86400) {
                                fprintf(err, "%s: setup-keys: bad --interval '%s' (60 to 2678400 seconds)\n",
                                        cli->progname, optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'u':
                        o->user = optarg;
                        break;
                case 'f':
                        o->force = true;
                        break;
                case 'h':
                        setup_keys_usage(out, cli->progname);
                        return EXIT_SUCCESS;
                default:
                        setup_keys_usage(err, cli->progname);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                setup_keys_usage(err, cli->progname);
                return EXIT_USAGE;
        }
        return CLI_RUN;
}

int cmd_setup_keys(const struct setup_keys_opts *o, FILE *out, FILE *err)
{
        const struct cli *cli = o->cli;
        const char *path = o->key_file, *user = o->user;
        unsigned long long interval = o->interval;
        char vkey[SEAL_VKEY_MAX], ts[32];
        struct config *cfg = NULL;
        uid_t uid;
        gid_t gid;
        time_t now = time(NULL);
        struct tm tm;
        int r, ret = EXIT_FAILURE;

        cfg = cli_load_config(cli, err);
        if (!path)
                path = cfg && cfg->seal_key ? cfg->seal_key : SEAL_DEFAULT_KEY;
        if (!user && cfg && cfg->user)
                user = cfg->user;
        r = key_owner(user, path, &uid, &gid);
        if (r < 0) {
                fprintf(err, "%s: setup-keys: %s: %s\n", cli->progname, user ? user : path, strerror(-r));
                goto out;
        }
        r = seal_setup(path, interval, now, uid, gid, o->force, vkey);
        if (r == -EEXIST) {
                fprintf(err, "%s: setup-keys: %s (or %s.sync) exists; --force replaces it and ends "
                        "the old chain\n", cli->progname, path, path);
                goto out;
        }
        if (r < 0) {
                fprintf(err, "%s: setup-keys: %s: %s\n", cli->progname, path, strerror(-r));
                goto out;
        }
        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(err,
                "Sealing key written to %s and %s.sync (mode 0600, uid %u).\n"
                "Epochs of %llu s from %s: the key evolves and the old one is erased.\n"
                "mxlockd seals with it once `seal_key = %s` is in [daemon] and it restarts.\n"
                "\n"
                "The verification key follows on stdout. It is shown once and not kept\n"
                "here; store it off this host. It can also seal, so guard it.\n"
                "Check the log with: %s verify --key KEY\n\n",
                path, path, (unsigned)uid, interval, ts, path, cli->progname);
        fprintf(out, "%s\n", vkey);
        fflush(out);
        ret = EXIT_SUCCESS;
out:
        explicit_bzero(vkey, sizeof(vkey));
        config_free(cfg);
        return ret;
}

static void verify_usage(FILE *out, const char *progname)
{
        fprintf(out,
                "Usage: %s verify [--key KEY|FILE] [FILE...]\n"
                "\n"
                "Check the sealed audit log: exit 0 when every record verifies and the\n"
                "chain holds across the files; 1 with FILE:LINE: why (edited, deleted,\n"
                "inserted, reordered, truncated, missing seal, wrong key) at the first\n"
                "record that breaks it; 2 on bad usage or an unreadable file.\n"
                "\n"
                "FILE: plain or gzip, oldest first. Without FILE: the configuration's\n"
                "audit_log and its rotated siblings, oldest first.\n"
                "\n"
                "  --key KEY|FILE   the verification key `mxlock setup-keys` printed, or a\n"
                "                   file holding it (default: $" SEAL_KEY_ENV ")\n",
                progname);
}

/* The verification key: the text itself, or the first line of a file. */
static int load_vkey(const char *arg, char out[SEAL_VKEY_MAX])
{
        FILE *f;

        if (strncmp(arg, "mxls", 4) == 0) {
                snprintf(out, SEAL_VKEY_MAX, "%s", arg);
                return 0;
        }
        f = fopen(arg, "re");
        if (!f)
                return -errno;
        if (!fgets(out, SEAL_VKEY_MAX, f))
                out[0] = '\0';
        fclose(f);
        return 0;
}

int verify_parse(struct verify_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "key", required_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        *o = (struct verify_opts){ .cli = cli, .key = getenv(SEAL_KEY_ENV) };
        optind = 0;
        while ((c = cli_getopt(argc, argv, "+k:h", opts, err)) != -1) {
                switch (c) {
                case 'k':
                        o->key = optarg;
                        break;
                case 'h':
                        verify_usage(out, cli->progname);
                        return EXIT_SUCCESS;
                default:
                        verify_usage(err, cli->progname);
                        return EXIT_USAGE;
                }
        }
        if (!o->key || !*o->key) {
                fprintf(err, "%s: verify: no verification key: --key KEY or $" SEAL_KEY_ENV "\n", cli->progname);
                return EXIT_USAGE;
        }
        o->files = argv + optind;
        o->nfiles = (size_t)(argc - optind);
        return CLI_RUN;
}

int cmd_verify(const struct verify_opts *o, FILE *out, FILE *err)
{
        const struct cli *cli = o->cli;
        char vkey[SEAL_VKEY_MAX], **files = NULL;
        struct seal_verify_stats st;
        struct seal_failure fail;
        struct config *cfg = NULL;
        size_t n, i;
        int r, ret = EXIT_USAGE;

        r = load_vkey(o->key, vkey);
        if (r < 0) {
                fprintf(err, "%s: verify: %s: %s\n", cli->progname, o->key, strerror(-r));
                return EXIT_USAGE;
        }
        if (o->nfiles) {
                files = calloc(o->nfiles + 1, sizeof(*files));
                for (i = 0; files && i < o->nfiles; i++)
                        files[i] = strdup(o->files[i]);
        } else {
                cfg = cli_load_config(cli, err);
                r = report_log_files(cfg && cfg->audit_log ? cfg->audit_log : CONFIG_DEFAULT_AUDIT_LOG, &files);
                if (r < 0)
                        files = NULL;
        }
        for (n = 0; files && files[n]; n++)
                ;
        if (!files || (o->nfiles && n != o->nfiles)) {
                fprintf(err, "%s: verify: out of memory\n", cli->progname);
                goto out;
        }
        r = seal_verify(vkey, (const char *const *)files, n, &fail, &st);
        if (r == -EINVAL) {
                fprintf(err, "%s: verify: not a verification key (want mxls1-...)\n", cli->progname);
        } else if (r < 0) {
                fprintf(err, "%s: verify: %s: %s\n", cli->progname, n ? files[fail.file] : "-", strerror(-r));
        } else if (r == 1) {
                fprintf(out, "%s:%llu: %s\n", files[fail.file], (unsigned long long)fail.line, fail.why);
                ret = EXIT_FAILURE;
        } else {
                fprintf(out, "OK: %llu records in %zu file%s verified, the chain holds (%llu seal records",
                       (unsigned long long)st.sealed, n, n == 1 ? "" : "s", (unsigned long long)st.anchors);
                if (st.unsealed_before)
                        fprintf(out, "; %llu records before sealing began, not covered",
                               (unsigned long long)st.unsealed_before);
                if (st.lost)
                        fprintf(out, "; %llu records the writer could not write, declared lost", (unsigned long long)st.lost);
                fprintf(out, ")\n");
                if (st.last_epoch_start) {
                        time_t t = (time_t)st.last_epoch_start;
                        struct tm tm;
                        char ts[32];

                        gmtime_r(&t, &tm);
                        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
                        fprintf(out, "mxlockd's last record: sealed in the epoch from %s; %s\n", ts,
                               st.ended_stop ? "it ended there (a clean stop)"
                                               : "records after it, if any were cut, cannot be found");
                }
                ret = EXIT_SUCCESS;
        }
out:
        explicit_bzero(vkey, sizeof(vkey));
        report_files_free(files);
        config_free(cfg);
        return ret;
}
