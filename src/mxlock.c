/* src/mxlock.c: the mxlock command-line tool: the global options and the
 * commands[] table. Each command is NAME_parse then cmd_NAME, in the
 * library (the convention is in src/cli.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "doctor.h"
#include "export.h"
#include "sync.h"

#define DEFAULT_CONFIG "/etc/mxlock/mxlock.conf"
#define DEFAULT_AUDIT_LOG "/var/log/mxlock/audit.jsonl"

#define EXIT_USAGE 2


struct command {
        const char *name;
        int (*fn)(int argc, char **argv, const struct cli *cli);
        const char *help;       /* one line */
};

CLI_COMMAND(status)
CLI_COMMAND(explain)
CLI_COMMAND(report)
CLI_COMMAND(request)
CLI_COMMAND(providers)
CLI_COMMAND(sync)
CLI_COMMAND(doctor)
CLI_COMMAND(setup_keys)
CLI_COMMAND(verify)

/* export reads the configuration first, for its live log, as it always has. */
static int run_export(int argc, char **argv, const struct cli *cli)
{
        struct config *cfg = cli_load_config(cli, stderr);
        struct export_opts o;
        int r = export_parse(&o, cli, argc, argv, stdout, stderr);

        if (r == CLI_RUN) {
                o.live_log = cfg && cfg->audit_log ? cfg->audit_log : DEFAULT_AUDIT_LOG;
                r = cmd_export(&o, stdout, stderr);
        }
        config_free(cfg);
        return r;
}

static const struct command commands[] = {
        { "status", run_status, "what mxlockd enforces, its counters and last reload" },
        { "explain", run_explain, "[--user USER] ADDRESS [PORT]: accepted or refused, and why (live kernel sets)" },
        { "report", run_report, "summarise the audit log (table, json, csv or html)" },
        { "reload", run_request, "reload the configuration atomically; prints the result or the error" },
        { "providers", run_providers, "list the provider catalogs, or show one" },
        { "sync", run_sync, "refresh provider ranges from their SPF records (to /var/lib/mxlock/providers)" },
        { "doctor", run_doctor, "DOMAIN...: onboarding checklist (MX, SPF, table, listeners, stale catalogs)" },
        { "export", run_export, "the audit log as ECS or OCSF records, one per line (--follow: like tail -F)" },
        { "disable", run_request, "remove the table and stop enforcing until `mxlock enable`" },
        { "enable", run_request, "put the table back and enforce again" },
        { "setup-keys", run_setup_keys, "create the audit log's sealing key; prints the verification key" },
        { "verify", run_verify, "[--key K] [FILE...]: check the sealed audit log (0: holds, 1: FILE:LINE why)" },
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
