/* src/cli_report.c: `mxlock report`, the command around src/report.h. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cli.h"
#include "config.h"
#include "report.h"

#define DEFAULT_AUDIT_LOG "/var/log/mxlock/audit.jsonl"
#define EXIT_USAGE 2

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
                "corrupt lines skipped. Outbound attempts (the outbound lock's records) are\n"
                "counted apart, by user, by unit and by destination; the inbound figures never\n"
                "include them.\n"
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
                "  --top N          top sources (and outbound users, units, destinations) to\n"
                "                   list (default %d, 0 = all)\n"
                "\n"
                "CSV: one table with the header section,key,value,first_seen,last_seen,detail\n"
                "and one row per fact; filter on the section column in a spreadsheet:\n"
                "  file,PATH,LINES,,,ERROR            summary,KEY,VALUE,,,\n"
                "  summary,period,,FIRST,LAST,        source,ADDRESS,ATTEMPTS,FIRST,LAST,POLICIES\n"
                "  policy_port,POLICY,ATTEMPTS,,,PORT hour,HOUR,ATTEMPTS,,,\n"
                "  reload,ok|error,COUNT,,,           reload_error,TIME,,,,MESSAGE\n"
                "  outbound_user,UID,ATTEMPTS,FIRST,LAST,USER\n"
                "  outbound_unit,UNIT,ATTEMPTS,FIRST,LAST,\n"
                "  outbound_destination,ADDRESS,ATTEMPTS,FIRST,LAST,PORT\n"
                "Times are UTC (RFC 3339); values starting with = + - @ are prefixed with '.\n",
                progname, REPORT_TOP_DEFAULT);
}

int report_parse(struct report_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "since", required_argument, NULL, 's' },
                { "until", required_argument, NULL, 'u' },
                { "format", required_argument, NULL, 'f' },
                { "top", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int64_t now = now_us();
        int c;
        char *end;

        *o = (struct report_opts){ .cli = cli, .report = { .top = REPORT_TOP_DEFAULT }, .format = REPORT_FORMAT_TABLE };
        optind = 0;
        while ((c = cli_getopt(argc, argv, "+s:u:f:n:h", opts, err)) != -1) {
                switch (c) {
                case 's':
                case 'u':
                        if (report_parse_time(optarg, now, c == 's' ? &o->report.since : &o->report.until) < 0) {
                                fprintf(err, "%s: report: bad time '%s' (want 2026-11-23T22:00:00Z, "
                                        "2026-11-23, or 24h, 7d, 90m)\n", cli->progname, optarg);
                                return EXIT_USAGE;
                        }
                        if (c == 's')
                                o->report.has_since = true;
                        else
                                o->report.has_until = true;
                        break;
                case 'f':
                        if (report_format_from_name(optarg, &o->format) < 0) {
                                fprintf(err, "%s: report: unknown format '%s' (table, json, csv, html)\n",
                                        cli->progname, optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'n': {
                        unsigned long long n;

                        errno = 0;
                        n = strtoull(optarg, &end, 10);
                        if (errno || end == optarg || *end || optarg[0] == '-' || n > SIZE_MAX) {
                                fprintf(err, "%s: report: bad --top '%s'\n", cli->progname, optarg);
                                return EXIT_USAGE;
                        }
                        o->report.top = (size_t)n;
                        break;
                }
                case 'h':
                        report_usage(out, cli->progname);
                        return EXIT_SUCCESS;
                default:
                        report_usage(err, cli->progname);
                        return EXIT_USAGE;
                }
        }
        if (o->report.has_since && o->report.has_until && o->report.since >= o->report.until) {
                fprintf(err, "%s: report: --since is not before --until\n", cli->progname);
                return EXIT_USAGE;
        }
        o->files = argv + optind;
        o->nfiles = (size_t)(argc - optind);
        return CLI_RUN;
}

int cmd_report(const struct report_opts *o, FILE *out, FILE *err)
{
        const struct cli *cli = o->cli;
        struct report *rep = NULL;
        struct config *cfg = NULL;
        char **files = NULL;
        bool defaults, any_read = false, any_failed = false;
        int r, ret = EXIT_FAILURE;
        size_t i, nfiles;

        defaults = o->nfiles == 0;
        if (defaults) {
                cfg = cli_load_config(cli, err);
                r = report_log_files(cfg && cfg->audit_log ? cfg->audit_log : DEFAULT_AUDIT_LOG, &files);
                if (r < 0) {
                        fprintf(err, "%s: report: %s\n", cli->progname, strerror(-r));
                        goto out;
                }
        } else {
                files = calloc(o->nfiles + 1, sizeof(*files));
                if (!files)
                        goto oom;
                for (i = 0; i < o->nfiles; i++) {
                        files[i] = strdup(o->files[i]);
                        if (!files[i])
                                goto oom;
                }
        }

        r = report_new(&o->report, &rep);
        if (r < 0)
                goto oom;
        for (nfiles = 0; files[nfiles]; nfiles++) {
                r = report_read_file(rep, files[nfiles]);
                if (r == -ENOMEM)
                        goto oom;
                if (r < 0) {
                        fprintf(err, "%s: report: %s: %s\n", cli->progname, files[nfiles], strerror(-r));
                        any_failed = true;
                } else {
                        any_read = true;
                }
        }
        if (!any_read) {
                fprintf(err, "%s: report: no audit log could be read\n", cli->progname);
                goto out;
        }
        r = report_write(rep, o->format, out);
        if (r < 0) {
                fprintf(err, "%s: report: writing the report: %s\n", cli->progname, strerror(-r));
                goto out;
        }
        if (report_corrupt(rep))
                fprintf(err, "%s: report: %" PRIu64 " corrupt line(s) skipped\n",
                        cli->progname, report_corrupt(rep));
        ret = any_failed ? EXIT_FAILURE : EXIT_SUCCESS;
        goto out;
oom:
        fprintf(err, "%s: report: out of memory\n", cli->progname);
out:
        report_free(rep);
        report_files_free(files);
        config_free(cfg);
        return ret;
}
