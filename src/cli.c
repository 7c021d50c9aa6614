/* src/cli.c: what the mxlock subcommands share (src/cli.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "control.h"
#include "json.h"

#define CALL_TIMEOUT_MS 30000

/* Load the configuration for a command that can live without it: a missing
 * default config is silent, any other failure is a warning. Returns the
 * config or NULL. */
struct config *cli_load_config(const struct cli *cli, FILE *err)
{
        char msg[CONFIG_ERRLEN];
        struct config *c = NULL;
        int r;

        r = config_load(cli->config_path, &c, msg, NULL, NULL);
        if (r < 0) {
                if (cli->config_given || r != -ENOENT)
                        fprintf(err, "%s: warning: %s (using defaults)\n", cli->progname, msg);
                return NULL;
        }
        return c;
}

/* The long options whose name starts with the n bytes of name; *ret_first:
 * the first of them (an exact match wins alone). */
static int long_matches(const struct option *longopts, const char *name, size_t n, const struct option **ret_first)
{
        int count = 0;

        *ret_first = NULL;
        for (const struct option *o = longopts; o && o->name; o++) {
                if (strncmp(o->name, name, n) != 0)
                        continue;
                if (strlen(o->name) == n) {
                        *ret_first = o;
                        return 1;
                }
                if (!*ret_first)
                        *ret_first = o;
                count++;
        }
        return count;
}

/* The messages are glibc's (posix/getopt.c), so that the bytes a user sees
 * do not depend on whether a command writes them itself. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, FILE *err)
{
        char spec[64];
        const char *flags = "";
        const struct option *lo;
        const char *arg, *name;
        size_t n;
        int c, before = optind;

        /* a leading ':' silences getopt and tells a missing argument apart */
        if (shortopts[0] == '+' || shortopts[0] == '-') {
                flags = shortopts[0] == '+' ? "+" : "-";
                shortopts++;
        }
        snprintf(spec, sizeof(spec), "%s:%s", flags, shortopts);
        opterr = 0;
        c = getopt_long(argc, argv, spec, longopts, NULL);
        if (c != '?' && c != ':')
                return c;

        /* a long option is always stepped over; a short one inside a
         * cluster is not, and argv[optind - 1] is then something else */
        arg = optind > before && optind <= argc ? argv[optind - 1] : "";
        if (strncmp(arg, "--", 2) == 0 && arg[2]) {
                name = arg + 2;
                n = strcspn(name, "=");
                if (long_matches(longopts, name, n, &lo) > 1) {
                        fprintf(err, "%s: option '--%.*s' is ambiguous; possibilities:", argv[0], (int)n, name);
                        for (const struct option *o = longopts; o->name; o++)
                                if (strncmp(o->name, name, n) == 0)
                                        fprintf(err, " '--%s'", o->name);
                        fputc('\n', err);
                } else if (!lo) {
                        fprintf(err, "%s: unrecognized option '%s'\n", argv[0], arg);
                } else if (c == ':') {
                        fprintf(err, "%s: option '--%s' requires an argument\n", argv[0], lo->name);
                } else {
                        fprintf(err, "%s: option '--%s' doesn't allow an argument\n", argv[0], lo->name);
                }
        } else if (c == ':') {
                fprintf(err, "%s: option requires an argument -- '%c'\n", argv[0], optopt);
        } else {
                fprintf(err, "%s: invalid option -- '%c'\n", argv[0], optopt);
        }
        return '?';
}

int cli_call(const struct cli *cli, const char *request, char **ret_reply, FILE *err)
{
        struct config *c = cli_load_config(cli, err);
        const char *path = c && c->control_socket ? c->control_socket : CONTROL_DEFAULT_SOCKET;
        int r;

        r = (cli->call ? cli->call : control_call)(path, request, CALL_TIMEOUT_MS, ret_reply);
        if (r == -ENOENT || r == -ECONNREFUSED)
                fprintf(err, "%s: mxlockd is not running (no control socket at %s)\n", cli->progname, path);
        else if (r == -EACCES)
                fprintf(err, "%s: %s: permission denied: root or the control group only\n", cli->progname, path);
        else if (r < 0)
                fprintf(err, "%s: %s: %s\n", cli->progname, path, strerror(-r));
        config_free(c);
        return r;
}

int cli_reply_parse(const char *text, struct cli_reply *ret)
{
        const struct json_node *root;
        int r;

        *ret = (struct cli_reply){};
        r = json_parse(text, strlen(text), &ret->doc);
        if (r < 0)
                return r;
        root = json_root(ret->doc);
        if (!root || root->type != JSON_OBJECT) {
                cli_reply_free(ret);
                return -EINVAL;
        }
        if (json_node_bool(json_get(root, "ok"), &ret->ok))
                ret->failed = !ret->ok;
        if (!json_node_str(json_get(root, "error"), &ret->error))
                ret->error = NULL;
        return 0;
}

void cli_reply_free(struct cli_reply *r)
{
        json_free(r->doc);
        *r = (struct cli_reply){};
}
