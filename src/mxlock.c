/* src/mxlock.c: the mxlock command-line tool: global options, then one
 * function per subcommand in the commands[] table. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "catalog.h"
#include "cli.h"
#include "doctor.h"
#include "export.h"
#include "sync.h"
#include "config.h"
#include "report.h"


#define DEFAULT_CONFIG "/etc/mxlock/mxlock.conf"
#define DEFAULT_AUDIT_LOG "/var/log/mxlock/audit.jsonl"
#define DEFAULT_PROVIDER_DIRS CONFIG_DEFAULT_PROVIDER_DIRS

#define EXIT_USAGE 2


struct command {
        const char *name;
        int (*fn)(int argc, char **argv, const struct cli *cli);
        const char *help;       /* one line */
};

static int cmd_report(int argc, char **argv, const struct cli *cli);

static int cmd_sync(int argc, char **argv, const struct cli *cli)
{
        return sync_main(argc, argv, cli->config_path);
}

static int cmd_doctor(int argc, char **argv, const struct cli *cli)
{
        return doctor_main(argc, argv, cli->config_path);
}
static int cmd_providers(int argc, char **argv, const struct cli *cli);

static int cmd_export(int argc, char **argv, const struct cli *cli)
{
        struct config *cfg = cli_load_config(cli);
        int r = export_main(argc, argv, cfg && cfg->audit_log ? cfg->audit_log : DEFAULT_AUDIT_LOG);

        config_free(cfg);
        return r;
}

static const struct command commands[] = {
        { "status", cmd_status, "what mxlockd enforces, its counters and last reload" },
        { "explain", cmd_explain, "ADDRESS [PORT]: accepted or refused, and why (live kernel sets)" },
        { "report", cmd_report, "summarise the audit log (table, json, csv or html)" },
        { "reload", cmd_reload, "reload the configuration atomically; prints the result or the error" },
        { "providers", cmd_providers, "list the provider catalogs, or show one" },
        { "sync", cmd_sync, "refresh provider ranges from their SPF records (to /var/lib/mxlock/providers)" },
        { "doctor", cmd_doctor, "DOMAIN...: onboarding checklist (MX, SPF, table, listeners, stale catalogs)" },
        { "export", cmd_export, "the audit log as ECS or OCSF records, one per line (--follow: like tail -F)" },
        { "disable", cmd_disable, "remove the table and stop enforcing until `mxlock enable`" },
        { "enable", cmd_enable, "put the table back and enforce again" },
        { "setup-keys", cmd_setup_keys, "create the audit log's sealing key; prints the verification key" },
        { "verify", cmd_verify, "[--key K] [FILE...]: check the sealed audit log (0: holds, 1: FILE:LINE why)" },
};

static void usage(FILE *out, const char *progname)
{
        size_t i;

        fprintf(out,
                "Usage: %s [-c CONFIG] COMMAND [ARGS]\n"
                "\n"
                "Options:\n"
                "  -c, --config FILE   configuration (default " DEFAULT_CONFIG ")\n"
                "  -h, --help          this help; COMMAND --help for a command's own\n"
                "\n"
                "Commands:\n", progname);
        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
}

/* Load the configuration for a command that can live without it: a missing
 * default config is silent, any other failure is a warning. Returns the
 * config or NULL. */
struct config *cli_load_config(const struct cli *cli)
{
        char err[CONFIG_ERRLEN];
        struct config *c = NULL;
        int r;

        r = config_load(cli->config_path, &c, err, NULL, NULL);
        if (r < 0) {
                if (cli->config_given || r != -ENOENT)
                        fprintf(stderr, "%s: warning: %s (using defaults)\n", cli->progname, err);
                return NULL;
        }
        return c;
}

static int64_t now_us(void)
{
        struct timeval tv;

        gettimeofday(&tv, NULL);
        return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* ------------------------------------------------------------------ */
/* mxlock report */

static void report_usage(FILE *out, const char *progname)
{
        fprintf(out,
                "Usage: %s report [--since T] [--until T] [--format FMT] [--top N] [FILE...]\n"
                "\n"
                "Summarise the audit log: records per event, attempts (refused, observed,\n"
                "summary and missed counts), distinct sources, the top sources, attempts per\n"
                "policy and port, attempts per UTC hour, reload results and the number of\n"
                "corrupt lines skipped.\n"
                "\n"
                "FILE is a plain or gzip audit log, '-' for stdin. Without FILE: the\n"
                "configuration's audit_log (default " DEFAULT_AUDIT_LOG ") and its\n"
                "rotated siblings (audit.jsonl.1, audit.jsonl.2.gz, audit.jsonl-20261123.gz).\n"
                "\n"
                "  --since T        only records at or after T\n"
                "  --until T        only records before T\n"
                "                   T: 2026-11-23T22:00:00Z, 2026-11-23T22:00 (UTC),\n"
                "                   2026-11-23, or a time before now: 90m, 24h, 7d, 2w\n"
                "  --format FMT     table (default), json (one object), csv, or html\n"
                "                   (one self-contained page with an SVG timeline)\n"
                "  --top N          top sources to list (default %d, 0 = all)\n"
                "\n"
                "CSV: one table with the header section,key,value,first_seen,last_seen,detail\n"
                "and one row per fact; filter on the section column in a spreadsheet:\n"
                "  file,PATH,LINES,,,ERROR            summary,KEY,VALUE,,,\n"
                "  summary,period,,FIRST,LAST,        source,ADDRESS,ATTEMPTS,FIRST,LAST,POLICIES\n"
                "  policy_port,POLICY,ATTEMPTS,,,PORT hour,HOUR,ATTEMPTS,,,\n"
                "  reload,ok|error,COUNT,,,           reload_error,TIME,,,,MESSAGE\n"
                "Times are UTC (RFC 3339); values starting with = + - @ are prefixed with '.\n",
                progname, REPORT_TOP_DEFAULT);
}

static int cmd_report(int argc, char **argv, const struct cli *cli)
{
        static const struct option opts[] = {
                { "since", required_argument, NULL, 's' },
                { "until", required_argument, NULL, 'u' },
                { "format", required_argument, NULL, 'f' },
                { "top", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct report_options o = { .top = REPORT_TOP_DEFAULT };
        enum report_format fmt = REPORT_FORMAT_TABLE;
        struct report *rep = NULL;
        struct config *cfg = NULL;
        char **files = NULL;
        bool defaults, any_read = false, any_failed = false;
        int64_t now = now_us();
        int c, r, ret = EXIT_FAILURE;
        size_t i, nfiles;
        char *end;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+s:u:f:n:h", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                case 'u':
                        if (report_parse_time(optarg, now, c == 's' ? &o.since : &o.until) < 0) {
                                fprintf(stderr, "%s: report: bad time '%s' (want 2026-11-23T22:00:00Z, "
                                        "2026-11-23, or 24h, 7d, 90m)\n", cli->progname, optarg);
                                return EXIT_USAGE;
                        }
                        if (c == 's')
                                o.has_since = true;
                        else
                                o.has_until = true;
                        break;
                case 'f':
                        if (report_format_from_name(optarg, &fmt) < 0) {
                                fprintf(stderr, "%s: report: unknown format '%s' (table, json, csv, html)\n",
                                        cli->progname, optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'n': {
                        unsigned long long n;

                        errno = 0;
                        n = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || n > SIZE_MAX) {
                                fprintf(stderr, "%s: report: bad --top '%s'\n", cli->progname, optarg);
                                return EXIT_USAGE;
                        }
                        o.top = (size_t)n;
                        break;
                }
                case 'h':
                        report_usage(stdout, cli->progname);
                        return EXIT_SUCCESS;
                default:
                        report_usage(stderr, cli->progname);
                        return EXIT_USAGE;
                }
        }
        if (o.has_since && o.has_until && o.since >= o.until) {
                fprintf(stderr, "%s: report: --since is not before --until\n", cli->progname);
                return EXIT_USAGE;
        }

        defaults = optind >= argc;
        if (defaults) {
                cfg = cli_load_config(cli);
                r = report_log_files(cfg && cfg->audit_log ? cfg->audit_log : DEFAULT_AUDIT_LOG, &files);
                if (r < 0) {
                        fprintf(stderr, "%s: report: %s\n", cli->progname, strerror(-r));
                        goto out;
                }
        } else {
                files = calloc((size_t)(argc - optind) + 1, sizeof(*files));
                if (!files)
                        goto oom;
                for (i = 0; i < (size_t)(argc - optind); i++) {
                        files[i] = strdup(argv[optind + (int)i]);
                        if (!files[i])
                                goto oom;
                }
        }

        r = report_new(&o, &rep);
        if (r < 0)
                goto oom;
        for (nfiles = 0; files[nfiles]; nfiles++) {
                r = report_read_file(rep, files[nfiles]);
                if (r == -ENOMEM)
                        goto oom;
                if (r < 0) {
                        fprintf(stderr, "%s: report: %s: %s\n", cli->progname, files[nfiles], strerror(-r));
                        any_failed = true;
                } else {
                        any_read = true;
                }
        }
        if (!any_read) {
                fprintf(stderr, "%s: report: no audit log could be read\n", cli->progname);
                goto out;
        }
        r = report_write(rep, fmt, stdout);
        if (r < 0) {
                fprintf(stderr, "%s: report: writing the report: %s\n", cli->progname, strerror(-r));
                goto out;
        }
        if (report_corrupt(rep))
                fprintf(stderr, "%s: report: %" PRIu64 " corrupt line(s) skipped\n",
                        cli->progname, report_corrupt(rep));
        ret = any_failed ? EXIT_FAILURE : EXIT_SUCCESS;
        goto out;
oom:
        fprintf(stderr, "%s: report: out of memory\n", cli->progname);
out:
        report_free(rep);
        report_files_free(files);
        config_free(cfg);
        return ret;
}

/* ------------------------------------------------------------------ */
/* mxlock providers */

struct name_list {
        char **v;
        size_t n, cap;
        bool oom;
};

static void collect_name(const char *name, const char *path, void *userdata)
{
        struct name_list *l = userdata;
        char **nv;

        (void) path;
        if (l->oom)
                return;
        if (l->n == l->cap) {
                size_t ncap = l->cap ? l->cap * 2 : 16;

                nv = realloc(l->v, ncap * sizeof(*nv));
                if (!nv) {
                        l->oom = true;
                        return;
                }
                l->v = nv;
                l->cap = ncap;
        }
        l->v[l->n] = strdup(name);
        if (!l->v[l->n]) {
                l->oom = true;
                return;
        }
        l->n++;
}

static void providers_usage(FILE *out, const char *progname)
{
        fprintf(out,
                "Usage: %s providers [--dir DIRS] [NAME]\n"
                "\n"
                "Without NAME: list the provider catalogs (name, entries, date checked,\n"
                "description). With NAME: show its description, source, spf, date checked,\n"
                "provider, MX host patterns, what ties mail to your own account, and every\n"
                "entry with its comment.\n"
                "\n"
                "  --dir DIRS   colon-separated catalog directories, later ones override\n"
                "               (default: the configuration's provider_dirs, else\n"
                "               " DEFAULT_PROVIDER_DIRS ")\n",
                progname);
}

static int providers_show(const struct cli *cli, const char *dirs, const char *name)
{
        char err[CONFIG_ERRLEN];
        struct catalog *c = NULL;
        size_t i, w = 0;
        int r;

        r = catalog_load(dirs, name, &c, err);
        if (r == -ENOENT) {
                fprintf(stderr, "%s: providers: no catalog '%s' in %s\n", cli->progname, name, dirs);
                return EXIT_FAILURE;
        }
        if (r < 0) {
                fprintf(stderr, "%s: providers: %s\n", cli->progname, err[0] ? err : strerror(-r));
                return EXIT_FAILURE;
        }
        printf("name:        %s\n", c->name);
        printf("file:        %s\n", c->path ? c->path : "");
        printf("description: %s\n", c->description ? c->description : "");
        printf("source:      %s\n", c->source ? c->source : "");
        printf("spf:         %s\n", c->spf ? c->spf : "(none)");
        printf("checked:     %s\n", c->checked ? c->checked : "(unknown)");
        if (c->provider)
                printf("provider:    %s\n", c->provider);
        for (i = 0; i < c->nmx; i++)
                printf("mx:          %s\n", c->mx[i]);
        if (c->tenant)
                printf("tenant:      %s\n", c->tenant);
        printf("entries:     %zu\n", c->n);
        for (i = 0; i < c->n; i++)
                if (strlen(c->v[i].text) > w)
                        w = strlen(c->v[i].text);
        for (i = 0; i < c->n; i++) {
                if (c->v[i].comment && *c->v[i].comment)
                        printf("  %-*s  # %s\n", (int)w, c->v[i].text, c->v[i].comment);
                else
                        printf("  %s\n", c->v[i].text);
        }
        catalog_free(c);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int providers_list(const struct cli *cli, const char *dirs)
{
        struct name_list l = {};
        size_t i, w = 4;
        int r, ret = EXIT_SUCCESS;

        r = catalog_list(dirs, collect_name, &l);
        if (r < 0 || l.oom) {
                fprintf(stderr, "%s: providers: %s: %s\n", cli->progname, dirs,
                        strerror(l.oom ? ENOMEM : -r));
                ret = EXIT_FAILURE;
                goto out;
        }
        if (l.n == 0) {
                fprintf(stderr, "%s: providers: no catalogs in %s\n", cli->progname, dirs);
                ret = EXIT_FAILURE;
                goto out;
        }
        for (i = 0; i < l.n; i++)
                if (strlen(l.v[i]) > w)
                        w = strlen(l.v[i]);
        printf("%-*s  ENTRIES  CHECKED     DESCRIPTION\n", (int)w, "NAME");
        for (i = 0; i < l.n; i++) {
                char err[CONFIG_ERRLEN];
                struct catalog *c = NULL;

                r = catalog_load(dirs, l.v[i], &c, err);
                if (r < 0) {
                        printf("%-*s  %7s  %-10s  (unreadable)\n", (int)w, l.v[i], "-", "-");
                        fprintf(stderr, "%s: providers: %s\n", cli->progname, err[0] ? err : strerror(-r));
                        ret = EXIT_FAILURE;
                        continue;
                }
                printf("%-*s  %7zu  %-10s  %s\n", (int)w, c->name, c->n,
                       c->checked ? c->checked : "-", c->description ? c->description : "");
                catalog_free(c);
        }
        if (fflush(stdout) != 0)
                ret = EXIT_FAILURE;
out:
        for (i = 0; i < l.n; i++)
                free(l.v[i]);
        free(l.v);
        return ret;
}

static int cmd_providers(int argc, char **argv, const struct cli *cli)
{
        static const struct option opts[] = {
                { "dir", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *dir_opt = NULL;
        struct config *cfg = NULL;
        const char *dirs;
        int c, ret;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+d:h", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        dir_opt = optarg;
                        break;
                case 'h':
                        providers_usage(stdout, cli->progname);
                        return EXIT_SUCCESS;
                default:
                        providers_usage(stderr, cli->progname);
                        return EXIT_USAGE;
                }
        }
        if (argc - optind > 1) {
                providers_usage(stderr, cli->progname);
                return EXIT_USAGE;
        }
        if (dir_opt) {
                dirs = dir_opt;
        } else {
                cfg = cli_load_config(cli);
                dirs = cfg && cfg->provider_dirs ? cfg->provider_dirs : DEFAULT_PROVIDER_DIRS;
        }
        if (optind < argc)
                ret = providers_show(cli, dirs, argv[optind]);
        else
                ret = providers_list(cli, dirs);
        config_free(cfg);
        return ret;
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct cli cli = { .progname = "mxlock", .config_path = DEFAULT_CONFIG };
        size_t i;
        int c;

        while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        cli.config_path = optarg;
                        cli.config_given = true;
                        break;
                case 'h':
                        usage(stdout, cli.progname);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr, cli.progname);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr, cli.progname);
                return EXIT_USAGE;
        }
        if (strcmp(argv[optind], "help") == 0) {
                usage(stdout, cli.progname);
                return EXIT_SUCCESS;
        }
        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[optind], commands[i].name) == 0)
                        return commands[i].fn(argc - optind, argv + optind, &cli);
        fprintf(stderr, "%s: unknown command '%s'\n\n", cli.progname, argv[optind]);
        usage(stderr, cli.progname);
        return EXIT_USAGE;
}
