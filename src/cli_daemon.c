/* src/cli_daemon.c: mxlock status, reload, enable, disable (over the control
 * socket) and explain (from the configuration and the live kernel sets, so
 * it works while mxlockd is stopped too). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "audit.h"
#include "cli.h"
#include "policy.h"
#include "ruleset.h"

static const char *const request_done[][2] = {
        { "reload", "reloaded: the new configuration is in force" },
        { "enable", "enabled: the table is back and enforcing" },
        { "disable", "disabled: the table is removed and nothing is enforced until `mxlock enable`" },
};

/* A reply's error for a terminal: the decoded "error" string, its control
 * characters but newline and tab escaped; the reply itself when it has no
 * "error" (or is not JSON). */
static void print_error(FILE *err, const char *progname, const char *reply, const struct cli_reply *rp)
{
        if (!rp->error) {
                fprintf(err, "%s: %s", progname, reply);
                return;
        }
        fprintf(err, "%s: ", progname);
        for (const unsigned char *e = (const unsigned char *)rp->error; *e; e++) {
                if ((*e < 0x20 && *e != '\n' && *e != '\t') || *e == 0x7f)
                        fprintf(err, "\\u%04x", *e);
                else
                        fputc(*e, err);
        }
        fputc('\n', err);
}

/* Options of a command that takes none but --help (and json_ok: --json,
 * --format=json). Returns CLI_RUN or the exit code. */
static int parse_plain(int argc, char **argv, bool json_ok, bool *ret_json, const char *usage, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "format", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        optind = 0;
        while ((c = cli_getopt(argc, argv, "+h", json_ok ? opts : opts + 2, err)) != -1) {
                switch (c) {
                case 'j':
                        *ret_json = true;
                        break;
                case 'f':
                        if (strcmp(optarg, "json") != 0) {
                                fprintf(err, "%s: --format: '%s' is not json\n", argv[0], optarg);
                                fprintf(err, "%s", usage);
                                return CLI_EXIT_USAGE;
                        }
                        *ret_json = true;
                        break;
                case 'h':
                        fprintf(out, "%s", usage);
                        return EXIT_SUCCESS;
                default:
                        fprintf(err, "%s", usage);
                        return CLI_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(err, "%s", usage);
                return CLI_EXIT_USAGE;
        }
        return CLI_RUN;
}

int request_parse(struct request_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        char usage[128];

        *o = (struct request_opts){ .cli = cli, .request = argv[0] };
        snprintf(usage, sizeof(usage), "Usage: %s %s\n", cli->progname, argv[0]);
        return parse_plain(argc, argv, false, NULL, usage, out, err);
}

int cmd_request(const struct request_opts *o, FILE *out, FILE *err)
{
        const char *done = NULL;
        struct cli_reply rp;
        char *reply = NULL;
        int ret = EXIT_FAILURE;

        for (size_t i = 0; i < sizeof(request_done) / sizeof(request_done[0]); i++)
                if (strcmp(o->request, request_done[i][0]) == 0)
                        done = request_done[i][1];
        if (!done) {
                fprintf(err, "%s: unknown request '%s'\n", o->cli->progname, o->request);
                return CLI_EXIT_USAGE;
        }
        if (cli_call(o->cli, o->request, &reply, err) < 0)
                return EXIT_FAILURE;
        if (cli_reply_parse(reply, &rp) == -ENOMEM) {
                fprintf(err, "%s: out of memory\n", o->cli->progname);
        } else if (!rp.ok) {
                print_error(err, o->cli->progname, reply, &rp);
        } else {
                fprintf(out, "%s\n", done);
                ret = EXIT_SUCCESS;
        }
        cli_reply_free(&rp);
        free(reply);
        return ret;
}

int status_parse(struct status_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        char usage[128];

        *o = (struct status_opts){ .cli = cli };
        snprintf(usage, sizeof(usage), "Usage: %s status [--json]\n", cli->progname);
        return parse_plain(argc, argv, true, &o->json, usage, out, err);
}

int cmd_status(const struct status_opts *o, FILE *out, FILE *err)
{
        struct cli_reply rp;
        char *reply = NULL;
        int r;

        if (cli_call(o->cli, o->json ? "status" : "status-text", &reply, err) < 0)
                return EXIT_FAILURE;
        fputs(reply, out);
        /* the text, or a JSON refusal (permission denied) saying "ok":false */
        r = cli_reply_parse(reply, &rp);
        r = o->json || (r == -EINVAL || (r == 0 && !rp.failed)) ? EXIT_SUCCESS : EXIT_FAILURE;
        cli_reply_free(&rp);
        free(reply);
        return r;
}

/* ---- explain ---- */

static void warn_quiet(const char *file, int line, const char *msg, void *userdata)
{
}

static void print_json_str(FILE *out, const char *key, const char *value, bool comma)
{
        fprintf(out, "%s\"%s\":", comma ? "," : "", key);
        json_fputs(out, value);
}

int explain_parse(struct explain_opts *o, const struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "format", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c, nargs;

        *o = (struct explain_opts){ .cli = cli, .port = 25 };
        optind = 0;
        while ((c = cli_getopt(argc, argv, "h", opts, err)) != -1) {
                switch (c) {
                case 'j':
                        o->json = true;
                        break;
                case 'f':
                        if (strcmp(optarg, "json") != 0) {
                                fprintf(err, "%s: --format: '%s' is not json\n", argv[0], optarg);
                                goto usage;
                        }
                        o->json = true;
                        break;
                case 'h':
                        fprintf(out, "Usage: %s explain [--json] ADDRESS [PORT]\n"
                                "Says whether a connection from ADDRESS to PORT (default 25) is accepted or\n"
                                "refused, by which policy and which prefix or provider, checked against the\n"
                                "kernel's live sets (works while mxlockd is stopped).\n", cli->progname);
                        return EXIT_SUCCESS;
                default:
                        goto usage;
                }
        }
        nargs = argc - optind;
        if (nargs < 1 || nargs > 2)
                goto usage;
        if (addr_parse(argv[optind], &o->family, &o->addr) < 0) {
                fprintf(err, "%s: '%s' is not an IPv4 or IPv6 address\n", cli->progname, argv[optind]);
                return CLI_EXIT_USAGE;
        }
        if (nargs == 2) {
                const char *a = argv[optind + 1];
                char *end;
                unsigned long p = strtoul(a, &end, 10);

                if (*end || p == 0 || p > 65535) {
                        fprintf(err, "%s: '%s' is not a port\n", cli->progname, a);
                        return CLI_EXIT_USAGE;
                }
                o->port = (unsigned)p;
        }
        return CLI_RUN;
usage:
        fprintf(err, "Usage: %s explain [--json] ADDRESS [PORT]\n", cli->progname);
        return CLI_EXIT_USAGE;
}

int cmd_explain(const struct explain_opts *o, FILE *out, FILE *err)
{
        const struct cli *cli = o->cli;
        struct config *c = NULL;
        struct policy_set *ps = NULL;
        struct ruleset *rs = NULL;
        const struct policy *pol = NULL;
        const struct policy_source *src = NULL;
        const char *verdict, *why;
        char msg[CONFIG_ERRLEN] = "", text[ADDR_STRLEN];
        int in_allow = -1, in_deny = -1, table = -1, ret = 1, r;
        bool allowed, monitor;
        size_t pi = 0;

        addr_format(o->family, o->addr, text);
        r = config_load(cli->config_path, &c, msg, warn_quiet, NULL);
        if (r == 0)
                r = policy_build(c, NULL, NULL, &ps, msg, warn_quiet, NULL);
        if (r < 0) {
                fprintf(err, "%s: %s\n", cli->progname, msg);
                goto out;
        }
        monitor = c->mode == MODE_MONITOR;
        for (pi = 0; pi < ps->n; pi++)
                if (policy_has_port(&ps->v[pi], (uint16_t)o->port)) {
                        pol = &ps->v[pi];
                        break;
                }
        if (pol) {
                allowed = policy_classify(pol, o->family, o->addr, &src);
                struct ruleset_opts ro = { .table = c->table };

                r = ruleset_open(&ro, &rs);
                if (r == 0)
                        table = ruleset_table_exists(rs);
                if (table > 0) {
                        in_allow = ruleset_list_lookup(rs, pol->name, RULESET_ALLOW, o->family, o->addr);
                        in_deny = ruleset_list_lookup(rs, pol->name, RULESET_DENY, o->family, o->addr);
                }
        } else {
                allowed = true;
        }

        /* the kernel decides; the configuration says why */
        if (!pol) {
                verdict = "accepted";
                why = "no policy locks this port: mxlock does not touch it";
        } else if (table <= 0) {
                verdict = "accepted";
                why = table == 0 ? "the mxlock table is not loaded: nothing is enforced (mxlockd disabled or never started)"
                                 : "cannot read the kernel's ruleset (run as root)";
        } else if (in_deny > 0) {
                verdict = monitor ? "observed" : "refused";
                why = "in the deny list";
        } else if (in_allow > 0) {
                verdict = "accepted";
                why = "in the allowed ranges";
        } else if (in_allow == 0) {
                verdict = monitor ? "observed" : "refused";
                why = "not in any allowed range";
        } else {
                verdict = allowed ? "accepted" : (monitor ? "observed" : "refused");
                why = allowed ? "in the allowed ranges (configuration; kernel set not readable)"
                              : "not in any allowed range (configuration; kernel set not readable)";
        }

        if (o->json) {
                fprintf(out, "{");
                print_json_str(out, "address", text, false);
                fprintf(out, ",\"port\":%u", o->port);
                print_json_str(out, "verdict", verdict, true);
                print_json_str(out, "reason", why, true);
                print_json_str(out, "policy", pol ? pol->name : NULL, true);
                print_json_str(out, "source", src ? src->origin : NULL, true);
                print_json_str(out, "mode", cfg_mode_name(c->mode), true);
                fprintf(out, ",\"kernel_table\":%s,\"kernel_allow\":%s,\"kernel_deny\":%s",
                       table > 0 ? "true" : table == 0 ? "false" : "null",
                       in_allow > 0 ? "true" : in_allow == 0 ? "false" : "null",
                       in_deny > 0 ? "true" : in_deny == 0 ? "false" : "null");
                fprintf(out, ",\"config_agrees\":%s}\n",
                       (in_allow < 0 || (in_deny > 0 ? false : in_allow > 0) == allowed) ? "true" : "false");
        } else {
                fprintf(out, "%s port %u: %s", text, o->port, verdict);
                if (pol)
                        fprintf(out, " by policy %s", pol->name);
                fprintf(out, ": %s\n", why);
                if (src)
                        fprintf(out, "  matched: %s\n", src->origin);
                if (pol && table > 0)
                        fprintf(out, "  kernel: table inet %s, allow set %s, deny set %s\n", c->table,
                               in_allow > 0 ? "matches" : in_allow == 0 ? "no match" : "unreadable",
                               in_deny > 0 ? "matches" : in_deny == 0 ? "no match" : "unreadable");
                if (pol && in_allow >= 0 && (in_deny > 0 ? false : in_allow > 0) != allowed)
                        fprintf(out, "  note: %s differs from the kernel; run `mxlock reload` to apply it\n",
                               cli->config_path);
                if (monitor && strcmp(verdict, "observed") == 0)
                        fprintf(out, "  monitor mode: the attempt is recorded as observed and accepted\n");
        }
        ret = 0;
out:
        ruleset_close(rs);
        policy_set_free(ps);
        config_free(c);
        return ret;
}
