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
#include "control.h"
#include "policy.h"
#include "ruleset.h"

#define CALL_TIMEOUT_MS 30000

static const char *socket_path(const struct config *c)
{
        return c && c->control_socket ? c->control_socket : CONTROL_DEFAULT_SOCKET;
}

static int call(const struct cli *cli, const char *request, char **ret_reply)
{
        struct config *c = cli_load_config(cli);
        const char *path = socket_path(c);
        int r;

        r = control_call(path, request, CALL_TIMEOUT_MS, ret_reply);
        if (r == -ENOENT || r == -ECONNREFUSED)
                fprintf(stderr, "%s: mxlockd is not running (no control socket at %s)\n", cli->progname, path);
        else if (r == -EACCES)
                fprintf(stderr, "%s: %s: permission denied: root or the control group only\n", cli->progname, path);
        else if (r < 0)
                fprintf(stderr, "%s: %s: %s\n", cli->progname, path, strerror(-r));
        config_free(c);
        return r;
}

static bool reply_ok(const char *reply)
{
        return strstr(reply, "\"ok\":true") != NULL;
}

/* The "error" string of a reply, unescaped enough for a terminal. */
static void print_error(const char *progname, const char *reply)
{
        const char *e = strstr(reply, "\"error\":\"");

        if (!e) {
                fprintf(stderr, "%s: %s", progname, reply);
                return;
        }
        e += 9;
        fprintf(stderr, "%s: ", progname);
        for (; *e && *e != '"'; e++) {
                if (*e == '\\' && e[1]) {
                        e++;
                        fputc(*e == 'n' ? '\n' : *e == 't' ? '\t' : *e, stderr);
                } else {
                        fputc(*e, stderr);
                }
        }
        fputc('\n', stderr);
}

static int simple_command(int argc, char **argv, const struct cli *cli, const char *request, const char *done)
{
        char *reply = NULL;
        int r;

        if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
                printf("Usage: %s %s\n", cli->progname, request);
                return 0;
        }
        if (argc > 1) {
                fprintf(stderr, "Usage: %s %s\n", cli->progname, request);
                return 2;
        }
        r = call(cli, request, &reply);
        if (r < 0)
                return 1;
        if (!reply_ok(reply)) {
                print_error(cli->progname, reply);
                free(reply);
                return 1;
        }
        printf("%s\n", done);
        free(reply);
        return 0;
}

int cmd_reload(int argc, char **argv, const struct cli *cli)
{
        return simple_command(argc, argv, cli, "reload", "reloaded: the new configuration is in force");
}

int cmd_enable(int argc, char **argv, const struct cli *cli)
{
        return simple_command(argc, argv, cli, "enable", "enabled: the table is back and enforcing");
}

int cmd_disable(int argc, char **argv, const struct cli *cli)
{
        return simple_command(argc, argv, cli, "disable",
                              "disabled: the table is removed and nothing is enforced until `mxlock enable`");
}

int cmd_status(int argc, char **argv, const struct cli *cli)
{
        bool json = false;
        char *reply = NULL;
        const char *req;
        int r;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--format=json") == 0) {
                        json = true;
                } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        printf("Usage: %s status [--json]\n", cli->progname);
                        return 0;
                } else {
                        fprintf(stderr, "Usage: %s status [--json]\n", cli->progname);
                        return 2;
                }
        }
        req = json ? "status" : "status-text";
        r = call(cli, req, &reply);
        if (r < 0)
                return 1;
        fputs(reply, stdout);
        r = json || strstr(reply, "\"ok\":false") == NULL ? 0 : 1;
        free(reply);
        return r;
}

/* ---- explain ---- */

static void warn_quiet(const char *file, int line, const char *msg, void *userdata)
{
}

struct explain {
        int family;
        addr128 addr;
        char text[ADDR_STRLEN];
        unsigned port;
        bool json;
};

static void print_json_str(const char *key, const char *value, bool comma)
{
        printf("%s\"%s\":", comma ? "," : "", key);
        json_fputs(stdout, value);
}

int cmd_explain(int argc, char **argv, const struct cli *cli)
{
        struct explain x = { .port = 25 };
        struct config *c = NULL;
        struct policy_set *ps = NULL;
        struct ruleset *rs = NULL;
        const struct policy *pol = NULL;
        const struct policy_source *src = NULL;
        const char *verdict, *why;
        char err[CONFIG_ERRLEN] = "";
        int in_allow = -1, in_deny = -1, table = -1, ret = 1, r;
        bool allowed, monitor;
        const char *args[2];
        int nargs = 0;
        size_t pi = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--format=json") == 0) {
                        x.json = true;
                } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        printf("Usage: %s explain [--json] ADDRESS [PORT]\n"
                               "Says whether a connection from ADDRESS to PORT (default 25) is accepted or\n"
                               "refused, by which policy and which prefix or provider, checked against the\n"
                               "kernel's live sets (works while mxlockd is stopped).\n", cli->progname);
                        return 0;
                } else if (nargs < 2) {
                        args[nargs++] = argv[i];
                } else {
                        nargs = 3;
                }
        }
        if (nargs < 1 || nargs > 2) {
                fprintf(stderr, "Usage: %s explain [--json] ADDRESS [PORT]\n", cli->progname);
                return 2;
        }
        if (addr_parse(args[0], &x.family, &x.addr) < 0) {
                fprintf(stderr, "%s: '%s' is not an IPv4 or IPv6 address\n", cli->progname, args[0]);
                return 2;
        }
        addr_format(x.family, x.addr, x.text);
        if (nargs == 2) {
                char *end;
                unsigned long p = strtoul(args[1], &end, 10);

                if (*end || p == 0 || p > 65535) {
                        fprintf(stderr, "%s: '%s' is not a port\n", cli->progname, args[1]);
                        return 2;
                }
                x.port = (unsigned)p;
        }

        r = config_load(cli->config_path, &c, err, warn_quiet, NULL);
        if (r == 0)
                r = policy_build(c, NULL, NULL, &ps, err, warn_quiet, NULL);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", cli->progname, err);
                goto out;
        }
        monitor = c->mode == MODE_MONITOR;
        for (pi = 0; pi < ps->n; pi++)
                if (policy_has_port(&ps->v[pi], (uint16_t)x.port)) {
                        pol = &ps->v[pi];
                        break;
                }
        if (pol) {
                allowed = policy_classify(pol, x.family, x.addr, &src);
                struct ruleset_opts o = { .table = c->table };

                r = ruleset_open(&o, &rs);
                if (r == 0)
                        table = ruleset_table_exists(rs);
                if (table > 0) {
                        in_allow = ruleset_list_lookup(rs, pol->name, RULESET_ALLOW, x.family, x.addr);
                        in_deny = ruleset_list_lookup(rs, pol->name, RULESET_DENY, x.family, x.addr);
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

        if (x.json) {
                printf("{");
                print_json_str("address", x.text, false);
                printf(",\"port\":%u", x.port);
                print_json_str("verdict", verdict, true);
                print_json_str("reason", why, true);
                print_json_str("policy", pol ? pol->name : NULL, true);
                print_json_str("source", src ? src->origin : NULL, true);
                print_json_str("mode", cfg_mode_name(c->mode), true);
                printf(",\"kernel_table\":%s,\"kernel_allow\":%s,\"kernel_deny\":%s",
                       table > 0 ? "true" : table == 0 ? "false" : "null",
                       in_allow > 0 ? "true" : in_allow == 0 ? "false" : "null",
                       in_deny > 0 ? "true" : in_deny == 0 ? "false" : "null");
                printf(",\"config_agrees\":%s}\n",
                       (in_allow < 0 || (in_deny > 0 ? false : in_allow > 0) == allowed) ? "true" : "false");
        } else {
                printf("%s port %u: %s", x.text, x.port, verdict);
                if (pol)
                        printf(" by policy %s", pol->name);
                printf(": %s\n", why);
                if (src)
                        printf("  matched: %s\n", src->origin);
                if (pol && table > 0)
                        printf("  kernel: table inet %s, allow set %s, deny set %s\n", c->table,
                               in_allow > 0 ? "matches" : in_allow == 0 ? "no match" : "unreadable",
                               in_deny > 0 ? "matches" : in_deny == 0 ? "no match" : "unreadable");
                if (pol && in_allow >= 0 && (in_deny > 0 ? false : in_allow > 0) != allowed)
                        printf("  note: %s differs from the kernel; run `mxlock reload` to apply it\n",
                               cli->config_path);
                if (monitor && strcmp(verdict, "observed") == 0)
                        printf("  monitor mode: the attempt is recorded as observed and accepted\n");
        }
        ret = 0;
out:
        ruleset_close(rs);
        policy_set_free(ps);
        config_free(c);
        return ret;
}
