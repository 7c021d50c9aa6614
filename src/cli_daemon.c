/* src/cli_daemon.c: mxlock status, reload, enable, disable (over the control
 * socket) and explain (from the configuration and the live kernel sets, so
 * it works while mxlockd is stopped too): of an inbound connection, or with
 * --user of a local user's connection out (the outbound lock). */
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pwd.h>
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
                { "user", required_argument, NULL, 'u' },
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
                case 'u':
                        if (!*optarg) {
                                fprintf(err, "%s: --user: empty user\n", cli->progname);
                                goto usage;
                        }
                        o->user = optarg;
                        break;
                case 'h':
                        fprintf(out, "Usage: %s explain [--json] [--user USER] ADDRESS [PORT]\n"
                                "Says whether a connection from ADDRESS to PORT (default 25) is accepted or\n"
                                "refused, by which policy and which prefix or provider, checked against the\n"
                                "kernel's live sets (works while mxlockd is stopped).\n"
                                "\n"
                                "  --json         one JSON object\n"
                                "  --user USER    a connection out: may local USER (a name or a uid) connect\n"
                                "                 to ADDRESS on PORT? Answered by the [outbound] section\n"
                                "                 that locks PORT: its users, then its destinations (to,\n"
                                "                 providers)\n", cli->progname);
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
        fprintf(err, "Usage: %s explain [--json] [--user USER] ADDRESS [PORT]\n", cli->progname);
        return CLI_EXIT_USAGE;
}

/* USER as a uid: a number is one; a name is looked up (NSS). */
static int user_uid(const char *user, uint32_t *ret_uid, char *ret_name, size_t len)
{
        struct passwd pw, *pwp = NULL;
        char buf[4096], *end;
        unsigned long v;

        if (user[0] >= '0' && user[0] <= '9') {
                errno = 0;
                v = strtoul(user, &end, 10);
                if (errno || *end || v >= UINT32_MAX)
                        return -EINVAL;
                *ret_uid = (uint32_t)v;
                ret_name[0] = '\0';
                if (getpwuid_r(*ret_uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp)
                        snprintf(ret_name, len, "%s", pwp->pw_name);
                return 0;
        }
        if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
                return -ENOENT;
        *ret_uid = pwp->pw_uid;
        snprintf(ret_name, len, "%s", pwp->pw_name);
        return 0;
}

/* Is the address this host's own (loopback or on an interface)? A
 * connection to it leaves through lo, which the outbound lock never
 * touches (README, "The outbound lock"). */
static bool host_address(int family, addr128 a)
{
        struct ifaddrs *ifa = NULL;
        bool found = false;

        if ((family == AF_INET && a >> 24 == 127) || (family == AF_INET6 && a == 1))
                return true;
        if (getifaddrs(&ifa) < 0)
                return false;
        for (struct ifaddrs *i = ifa; i && !found; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != family)
                        continue;
                if (family == AF_INET)
                        found = addr_from_bytes(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr) == a;
                else
                        found = addr_from_bytes(AF_INET6,
                                                &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr) == a;
        }
        freeifaddrs(ifa);
        return found;
}

/* explain --user: may this local user connect out to ADDRESS on PORT? The
 * [outbound] section that locks the port decides: the user first, then
 * the destination (as the kernel rule and mxlockd do); the kernel's live
 * sets (users_P, allow4_P/allow6_P) are what is enforced, the
 * configuration says why. */
static int explain_outbound(const struct explain_opts *o, const struct config *c, const struct policy_set *ps,
                            FILE *out, FILE *err)
{
        const struct cli *cli = o->cli;
        const struct policy *pol = NULL;
        const struct policy_source *src = NULL;
        const char *verdict, *why, *rule = NULL;
        char text[ADDR_STRLEN], name[256], who[300], whybuf[512], cfgwhy[512] = "";
        bool user_ok = false, dst_ok = false, monitor = c->mode == MODE_MONITOR, local;
        int table = -1, in_users = -1, in_allow = -1, r;
        struct ruleset *rs = NULL;
        uint32_t uid;

        addr_format(o->family, o->addr, text);
        r = user_uid(o->user, &uid, name, sizeof(name));
        if (r < 0) {
                fprintf(err, "%s: --user: %s '%s'\n", cli->progname, r == -ENOENT ? "unknown user" : "not a uid",
                        o->user);
                return CLI_EXIT_USAGE;
        }
        if (name[0])
                snprintf(who, sizeof(who), "user %s (uid %" PRIu32 ")", name, uid);
        else
                snprintf(who, sizeof(who), "uid %" PRIu32, uid);
        for (size_t i = 0; i < ps->n && !pol; i++)
                if (ps->v[i].outbound && policy_has_port(&ps->v[i], (uint16_t)o->port))
                        pol = &ps->v[i];
        local = host_address(o->family, o->addr);
        if (pol && !local) {
                struct ruleset_opts ro = { .table = c->table };

                user_ok = policy_has_uid(pol, uid);
                dst_ok = policy_classify(pol, o->family, o->addr, &src);
                if (ruleset_open(&ro, &rs) == 0)
                        table = ruleset_table_exists(rs);
                if (table > 0) {
                        in_users = ruleset_users_lookup(rs, pol->name, uid);
                        in_allow = ruleset_list_lookup(rs, pol->name, RULESET_ALLOW, o->family, o->addr);
                }
        }

        /* what the configuration decides, and why */
        if (pol && !local && !user_ok) {
                rule = "user-not-allowed";
                snprintf(cfgwhy, sizeof(cfgwhy), "%s is not listed in users", who);
        } else if (pol && !local && !dst_ok) {
                rule = "destination-not-allowed";
                snprintf(cfgwhy, sizeof(cfgwhy), "%s is not among the allowed destinations (to, providers)", text);
        } else if (pol && !local) {
                rule = "allowed";
                snprintf(cfgwhy, sizeof(cfgwhy), "%s is listed and %s is an allowed destination", who, text);
        }

        /* the kernel decides (where it can be read); the configuration says why */
        if (!pol) {
                verdict = "accepted";
                why = "no [outbound] section locks this port: mxlock does not touch it";
        } else if (local) {
                verdict = "accepted";
                why = "an address of this host: the connection goes through lo, which the outbound lock never "
                      "touches";
        } else if (table <= 0) {
                verdict = "accepted";
                why = table == 0 ? "the mxlock table is not loaded: nothing is enforced (mxlockd disabled or never "
                                   "started)"
                                 : "cannot read the kernel's ruleset (run as root)";
        } else {
                bool k_user = in_users >= 0 ? in_users > 0 : user_ok;
                bool k_dst = in_allow >= 0 ? in_allow > 0 : dst_ok;

                if (!k_user) {
                        verdict = monitor ? "observed" : "refused";
                        rule = "user-not-allowed";
                        snprintf(whybuf, sizeof(whybuf), "%s is not listed in users", who);
                } else if (!k_dst) {
                        verdict = monitor ? "observed" : "refused";
                        rule = "destination-not-allowed";
                        snprintf(whybuf, sizeof(whybuf), "%s is not among the allowed destinations (to, providers)",
                                 text);
                } else {
                        verdict = "accepted";
                        rule = "allowed";
                        snprintf(whybuf, sizeof(whybuf), "%s is listed and %s is an allowed destination", who, text);
                }
                why = whybuf;
        }

        if (o->json) {
                fputc('{', out);
                print_json_str(out, "address", text, false);
                fprintf(out, ",\"port\":%u,\"direction\":\"outbound\",\"uid\":%" PRIu32, o->port, uid);
                print_json_str(out, "user", name[0] ? name : NULL, true);
                print_json_str(out, "verdict", verdict, true);
                print_json_str(out, "reason", why, true);
                print_json_str(out, "rule", rule, true);
                print_json_str(out, "policy", pol ? pol->name : NULL, true);
                print_json_str(out, "destination", src ? src->origin : NULL, true);
                print_json_str(out, "mode", cfg_mode_name(c->mode), true);
                fprintf(out, ",\"kernel_table\":%s,\"kernel_users\":%s,\"kernel_allow\":%s",
                        table > 0 ? "true" : table == 0 ? "false" : "null",
                        in_users > 0 ? "true" : in_users == 0 ? "false" : "null",
                        in_allow > 0 ? "true" : in_allow == 0 ? "false" : "null");
                fprintf(out, ",\"config_agrees\":%s}\n",
                        (in_users < 0 || (in_users > 0) == user_ok) && (in_allow < 0 || (in_allow > 0) == dst_ok)
                                ? "true" : "false");
        } else {
                fprintf(out, "%s to %s port %u: %s", who, text, o->port, verdict);
                if (pol)
                        fprintf(out, " by outbound %s", pol->name);
                fprintf(out, ": %s\n", why);
                if (pol && !local && table <= 0)
                        fprintf(out, "  configuration: %s: %s\n", strcmp(rule, "allowed") == 0 ? "allowed" :
                                monitor ? "would be observed" : "would be refused", cfgwhy);
                if (src && rule && strcmp(rule, "allowed") == 0)
                        fprintf(out, "  matched: %s\n", src->origin);
                if (pol && !local && table > 0)
                        fprintf(out, "  kernel: table inet %s, users set %s, allow set %s\n", c->table,
                                in_users > 0 ? "matches" : in_users == 0 ? "no match" : "unreadable",
                                in_allow > 0 ? "matches" : in_allow == 0 ? "no match" : "unreadable");
                if (pol && !local && ((in_users >= 0 && (in_users > 0) != user_ok) ||
                                      (in_allow >= 0 && (in_allow > 0) != dst_ok)))
                        fprintf(out, "  note: %s differs from the kernel; run `mxlock reload` to apply it\n",
                                cli->config_path);
                if (monitor && strcmp(verdict, "observed") == 0)
                        fprintf(out, "  monitor mode: the attempt is recorded as observed and let through\n");
        }
        ruleset_close(rs);
        return 0;
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
        if (o->user) {
                ret = explain_outbound(o, c, ps, out, err);
                goto out;
        }
        for (pi = 0; pi < ps->n; pi++)
                if (!ps->v[pi].outbound && policy_has_port(&ps->v[pi], (uint16_t)o->port)) {
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
                for (pi = 0; pi < ps->n; pi++)
                        if (ps->v[pi].outbound && policy_has_port(&ps->v[pi], (uint16_t)o->port))
                                why = "no inbound policy locks this port: mxlock does not touch it (an [outbound] "
                                      "section does: ask with --user)";
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
                fprintf(out, ",\"port\":%u,\"direction\":\"inbound\"", o->port);
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
